import { Args, Flags } from '@oclif/core';
import Table from 'cli-table3';
import { Client } from '../../../src/client/client.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';
import { formatSize } from '../../sizes.js';

export default class DataLs extends ClientCommand {
  static override description = 'List the saved data urls matching a glob';
  static override examples = ['<%= config.bin %> data ls', '<%= config.bin %> data ls "tables/**/*.csv" --long'];
  static override args = {
    glob: Args.string({ ignoreStdin: true, default: '**', description: 'a glob over data urls (* within a segment, ** across segments)' }),
  };
  static override flags = {
    ...clientFlags,
    long: Flags.boolean({ char: 'l', default: false, description: 'show size, format, holders, the nodes holding it in memory, and creation time' }),
  };

  async run(): Promise<unknown[]> {
    const { args, flags } = await this.parse(DataLs);
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      const urls = await client.pathSearch(args.glob);
      if (!flags.long && !this.jsonEnabled()) {
        for (const url of urls) this.log(url);
        return urls;
      }
      const report = await client.dataInfo(urls);
      const entries = urls.map((url) => ({ url, ...report.data[url] }));
      if (this.jsonEnabled()) return entries;
      const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
      const table = new Table({ ...style, head: ['url', 'size', 'fmt', 'holders', 'in memory', 'created'] });
      for (const url of urls) {
        const { info, holders, memory = {} } = report.data[url];
        const inMemory = Object.entries(memory).map(([node, m]) => (m.pinned ? `${node} (pinned)` : node)).join(', ') || '-';
        table.push([url, info ? formatSize(info.size) : '-', info?.fmt ?? '-', holders.join(', '), inMemory, info ? new Date(info.created).toISOString() : '-']);
      }
      this.log(table.toString());
      return entries;
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
