import { Args, Command, Flags } from '@oclif/core';
import Table from 'cli-table3';
import { Client } from '../../../src/client/client.js';
import { clientFlags } from '../../client-flags.js';

export default class DataLs extends Command {
  static override description = 'List the saved data urls matching a glob';
  static override examples = ['<%= config.bin %> data ls', '<%= config.bin %> data ls "tables/**/*.csv" --long'];
  static override args = {
    glob: Args.string({ default: '**', description: 'a glob over data urls (* within a segment, ** across segments)' }),
  };
  static override flags = {
    ...clientFlags,
    long: Flags.boolean({ char: 'l', default: false, description: 'show size, format, holders, the nodes holding it in memory, and creation time' }),
    json: Flags.boolean({ default: false, description: 'print JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DataLs);
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const urls = await client.pathSearch(args.glob);
      if (!flags.long && !flags.json) {
        for (const url of urls) this.log(url);
        return;
      }
      const report = await client.dataInfo(urls);
      if (flags.json) {
        this.log(JSON.stringify(urls.map((url) => ({ url, ...report.data[url] })), null, 2));
        return;
      }
      const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
      const table = new Table({ ...style, head: ['url', 'size', 'fmt', 'holders', 'in memory', 'created'] });
      for (const url of urls) {
        const { info, holders, memory = {} } = report.data[url];
        const inMemory = Object.entries(memory).map(([node, m]) => (m.pinned ? `${node} (pinned)` : node)).join(', ') || '-';
        table.push([url, info ? String(info.size) : '-', info?.fmt ?? '-', holders.join(', '), inMemory, info ? new Date(info.created).toISOString() : '-']);
      }
      this.log(table.toString());
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}
