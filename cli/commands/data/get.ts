import { basename, resolve } from 'node:path';
import { Args, Command } from '@oclif/core';
import { DataHttp } from '../../../src/client/data-http.js';
import { Transport } from '../../../src/client/transport.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { clientFlags } from '../../client-flags.js';
import { transferProgress } from '../../progress.js';

export default class DataGet extends Command {
  static override description = 'Download the data at URL to a local file (checked against its sha256), or to stdout with "-"';
  static override examples = ['<%= config.bin %> data get tables/2024/table.csv ./table.csv', '<%= config.bin %> data get logs/today - | head'];
  static override args = {
    url: Args.string({ required: true, description: 'the data url' }),
    file: Args.string({ description: 'where to write it; "-" for stdout [default: the url\'s last segment, in the current directory]' }),
  };
  static override flags = clientFlags;

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DataGet);
    const transport = new Transport(flags.url, flags.token);
    const data = new DataHttp(transport);
    try {
      const url = checkDataUrl(args.url);
      if (args.file === '-') {
        await data.download(url, process.stdout);
        return;
      }
      const file = resolve(args.file ?? basename(url));
      const progress = transferProgress('download');
      try {
        const got = await data.download(url, file, { onProgress: (done, total) => progress.update(done, total) });
        progress.stop();
        this.log(`${file}\t${got.size} bytes\tsha256 ${got.sha256}`);
      } finally {
        progress.stop();
      }
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await transport.close();
    }
  }
}
