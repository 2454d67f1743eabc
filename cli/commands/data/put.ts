import { basename, resolve } from 'node:path';
import { Args, Command, Flags } from '@oclif/core';
import { DataHttp } from '../../../src/client/data-http.js';
import { Transport } from '../../../src/client/transport.js';
import { checkDataFormat } from '../../../src/data-protocol.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { clientFlags } from '../../client-flags.js';
import { transferProgress } from '../../progress.js';

export default class DataPut extends Command {
  static override description = 'Upload a local file to the cluster as data at URL (write-once), streamed from disk';
  static override examples = ['<%= config.bin %> data put ./table.csv tables/2024/table.csv', '<%= config.bin %> data put ./model.bin'];
  static override args = {
    file: Args.string({ required: true, description: 'the local file to upload' }),
    url: Args.string({ description: 'the data url to save it at [default: the file\'s name]' }),
  };
  static override flags = {
    ...clientFlags,
    fmt: Flags.string({ default: 'file', options: ['file', 'raw', 'cbor', 'json'], description: 'the format recorded with the data' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DataPut);
    const transport = new Transport(flags.url, flags.token);
    const progress = transferProgress('upload  ');
    try {
      const url = checkDataUrl(args.url ?? basename(args.file));
      const info = await new DataHttp(transport).save(url, checkDataFormat(flags.fmt), { path: resolve(args.file) }, { onProgress: (done, total) => progress.update(done, total) });
      progress.stop();
      this.log(`${info.url}\t${info.size} bytes\tsha256 ${info.sha256}\ton ${info.node}`);
    } catch (error) {
      progress.stop();
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await transport.close();
    }
  }
}
