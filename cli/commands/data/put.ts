import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Args, Flags } from '@oclif/core';
import { DataHttp } from '../../../src/client/data-http.js';
import { Transport } from '../../../src/client/transport.js';
import { checkDataFormat, type DataInfo } from '../../../src/data-protocol.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { CliUsageError } from '../../cli-errors.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';
import { transferProgress } from '../../progress.js';

export default class DataPut extends ClientCommand {
  static override description = 'Upload a local file (or stdin, with "-") to the cluster as data at URL (write-once), streamed from disk';
  static override examples = ['<%= config.bin %> data put ./table.csv tables/2024/table.csv', '<%= config.bin %> data put ./model.bin', 'gzip -c big.log | <%= config.bin %> data put - logs/big.log.gz'];
  static override args = {
    file: Args.string({ ignoreStdin: true, required: true, description: 'the local file to upload; "-" reads stdin (then URL is required)' }),
    url: Args.string({ ignoreStdin: true, description: 'the data url to save it at [default: the file\'s name]' }),
  };
  static override flags = {
    ...clientFlags,
    fmt: Flags.string({ default: 'file', options: ['file', 'raw', 'cbor', 'json'], description: 'the format recorded with the data' }),
  };

  async run(): Promise<DataInfo> {
    const { args, flags } = await this.parse(DataPut);
    const transport = new Transport(this.nodeUrl(flags), flags.token);
    const progress = transferProgress('upload  ', Boolean(process.stdout.isTTY) && !this.jsonEnabled());
    let spooled: string | undefined;
    try {
      const fromStdin = args.file === '-';
      if (fromStdin && !args.url) throw new CliUsageError('`ks data put -` reads stdin: give the url to save it at, as in `ks data put - logs/today.txt`');
      const url = checkDataUrl(args.url ?? basename(args.file));
      let path: string;
      if (fromStdin) {
        // The upload announces its length, so stdin is spooled to a temp file first.
        spooled = await mkdtemp(join(tmpdir(), 'ks-put-'));
        path = join(spooled, 'stdin');
        await pipeline(process.stdin, createWriteStream(path));
      } else {
        path = resolve(args.file);
        const file = await stat(path).catch(() => undefined);
        if (!file) throw new CliUsageError(`no such local file: ${args.file}`);
        if (!file.isFile()) throw new CliUsageError(`${args.file} is not a file (a folder?): \`ks data put\` uploads one file`);
      }
      const info = await new DataHttp(transport).save(url, checkDataFormat(flags.fmt), { path }, { onProgress: (done, total) => progress.update(done, total) });
      progress.stop();
      this.log(`${info.url}\t${info.size} bytes\tsha256 ${info.sha256}\ton ${info.node}`);
      return info;
    } catch (error) {
      progress.stop();
      return this.fail(error, flags);
    } finally {
      await transport.close();
      if (spooled) await rm(spooled, { recursive: true, force: true });
    }
  }
}
