import { Args, Command, Flags } from '@oclif/core';
import { Client } from '../../../src/client/client.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { clientFlags } from '../../client-flags.js';

export default class DataRm extends Command {
  static override description = 'Delete the data at URL: every copy, or with --host only that node\'s copy';
  static override args = {
    url: Args.string({ required: true, description: 'the data url' }),
  };
  static override flags = {
    ...clientFlags,
    host: Flags.string({ description: 'remove only the copy on this node' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DataRm);
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const deleted = await client.deleteData(checkDataUrl(args.url), { host: flags.host });
      this.log(`removed ${args.url} from ${deleted.join(', ')}`);
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}
