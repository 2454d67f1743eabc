import { Args } from '@oclif/core';
import { Client } from '../../../src/client/client.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';

export default class DataInfo extends ClientCommand {
  static override description = 'Show the catalog record of a data url: size, sha256, format, creation time and holders (JSON)';
  static override args = {
    url: Args.string({ ignoreStdin: true, required: true, description: 'the data url' }),
  };
  static override flags = clientFlags;

  async run(): Promise<Record<string, unknown>> {
    const { args, flags } = await this.parse(DataInfo);
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      const url = checkDataUrl(args.url);
      const { data, hosts } = await client.dataInfo([url]);
      const entry = data[url];
      if (entry.state !== 'ready') this.error(entry.state === 'starting' ? `${url} is still being saved` : `no data at url ${url} (\`ks data ls\` lists the saved urls)`, { exit: 1 });
      const live = entry.holders.filter((h) => h in hosts);
      const record = { ...entry.info, state: entry.state, holders: entry.holders, liveHolders: live };
      // Its one output is JSON already: printed as JSON with --json or without.
      if (!this.jsonEnabled()) this.log(JSON.stringify(record, null, 2));
      return record;
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
