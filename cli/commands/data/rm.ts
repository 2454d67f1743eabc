import { Args, Flags } from '@oclif/core';
import { Client } from '../../../src/client/client.js';
import { checkDataUrl } from '../../../src/data-url.js';
import { CliUsageError } from '../../cli-errors.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';
import { confirm } from '../../confirm.js';

const GLOB_CHARS = /[*?[\]{}]/;

export default class DataRm extends ClientCommand {
  static override description = 'Delete the data at URL, or at every url a glob matches (after a confirmation): every copy, or with --host only that node\'s copy';
  static override examples = ['<%= config.bin %> data rm tables/2024/table.csv', '<%= config.bin %> data rm "tmp/**" --yes'];
  static override args = {
    url: Args.string({ ignoreStdin: true, required: true, description: 'the data url, or a glob over data urls (* within a segment, ** across segments)' }),
  };
  static override flags = {
    ...clientFlags,
    host: Flags.string({ description: 'remove only the copy on this node' }),
    yes: Flags.boolean({ char: 'y', default: false, description: 'delete what a glob matches without asking' }),
  };

  async run(): Promise<{ removed: Record<string, string[]> }> {
    const { args, flags } = await this.parse(DataRm);
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      const isGlob = GLOB_CHARS.test(args.url);
      const urls = isGlob ? await client.pathSearch(args.url) : [checkDataUrl(args.url)];
      if (isGlob) {
        if (urls.length === 0) {
          this.log(`no data url matches ${args.url}`);
          return { removed: {} };
        }
        if (!flags.yes) {
          if (!process.stdin.isTTY || !process.stderr.isTTY) {
            throw new CliUsageError(`${urls.length} url(s) match ${args.url}; no terminal to confirm on: pass --yes to delete them`);
          }
          this.logToStderr(urls.join('\n'));
          if (!(await confirm(`delete ${urls.length} url(s)${flags.host ? ` from ${flags.host}` : ''}?`))) {
            this.logToStderr('nothing deleted');
            return { removed: {} };
          }
        }
      }
      const removed: Record<string, string[]> = {};
      for (const url of urls) {
        removed[url] = await client.deleteData(url, { host: flags.host });
        this.log(`removed ${url} from ${removed[url].join(', ')}`);
      }
      return { removed };
    } catch (error) {
      return this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
