import { basename, resolve } from 'node:path';
import { Args } from '@oclif/core';
import { DataHttp } from '../../../src/client/data-http.js';
import { Transport } from '../../../src/client/transport.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';
import { transferProgress } from '../../progress.js';

export default class DataGet extends ClientCommand {
  static override description = 'Download the data at URL to a local file (checked against its sha256), or to stdout with "-"';
  static override examples = ['<%= config.bin %> data get tables/2024/table.csv ./table.csv', '<%= config.bin %> data get logs/today - | head'];
  static override args = {
    url: Args.string({ ignoreStdin: true, required: true, description: 'the data url' }),
    file: Args.string({ ignoreStdin: true, description: 'where to write it; "-" for stdout [default: the url\'s last segment, in the current directory]' }),
  };
  static override flags = clientFlags;

  async run(): Promise<{ url: string; file: string; size: number; sha256: string } | undefined> {
    const { args, flags } = await this.parse(DataGet);
    const transport = new Transport(this.nodeUrl(flags), flags.token);
    const data = new DataHttp(transport);
    try {
      const url = checkDataUrl(args.url);
      if (args.file === '-') {
        await data.download(url, process.stdout);
        return undefined;
      }
      const file = resolve(args.file ?? basename(url));
      const progress = transferProgress('download', Boolean(process.stdout.isTTY) && !this.jsonEnabled());
      try {
        const got = await data.download(url, file, { onProgress: (done, total) => progress.update(done, total) });
        progress.stop();
        this.log(`${file}\t${got.size} bytes\tsha256 ${got.sha256}`);
        return { url, file, size: got.size, sha256: got.sha256 };
      } finally {
        progress.stop();
      }
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await transport.close();
    }
  }
}
