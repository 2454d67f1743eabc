import { Args, Command } from '@oclif/core';
import { Client } from '../../../src/client/client.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { clientFlags } from '../../client-flags.js';

export default class DataInfo extends Command {
  static override description = 'Show the catalog record of a data url: size, sha256, format, creation time and holders (JSON)';
  static override args = {
    url: Args.string({ required: true, description: 'the data url' }),
  };
  static override flags = clientFlags;

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DataInfo);
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const url = checkDataUrl(args.url);
      const { data, hosts } = await client.dataInfo([url]);
      const entry = data[url];
      if (entry.state !== 'ready') this.error(entry.state === 'starting' ? `${url} is still being saved` : `no data at url ${url}`, { exit: 1 });
      const live = entry.holders.filter((h) => h in hosts);
      this.log(JSON.stringify({ ...entry.info, state: entry.state, holders: entry.holders, liveHolders: live }, null, 2));
    } catch (error) {
      if (error instanceof Error && 'oclif' in error) throw error;
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}
