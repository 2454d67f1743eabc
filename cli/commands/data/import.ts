import { Args, Flags } from '@oclif/core';
import { Client } from '../../../src/client/client.js';
import type { ImportReport } from '../../../src/data-protocol.js';
import { ClientCommand } from '../../client-command.js';
import { clientFlags } from '../../client-flags.js';

export default class DataImport extends ClientCommand {
  static override description = 'Register files already in a node\'s data directory (copied there by rsync, say) as data, as if they had been saved';
  static override examples = [
    '<%= config.bin %> data import tables/a.csv tables/b.csv --node http://127.0.0.1:6323/',
    '<%= config.bin %> data import a.csv b.csv --prefix tables --fmt file --node http://127.0.0.1:6323/',
  ];
  static override strict = false;
  static override args = {
    path: Args.string({ ignoreStdin: true, required: true, description: 'a file or folder, relative to the node\'s --datadir (under --prefix); repeatable' }),
  };
  static override flags = {
    ...clientFlags,
    node: Flags.string({ required: true, aliases: ['url'], helpValue: 'URL', description: 'the url of the node whose data directory holds the files (alias --url)' }),
    prefix: Flags.string({ description: 'the paths are relative to this folder of the data directory (their urls start with it)' }),
    fmt: Flags.string({ default: 'file', options: ['file', 'raw', 'cbor', 'json'], description: 'the format to record' }),
  };

  async run(): Promise<ImportReport> {
    const { argv, flags } = await this.parse(DataImport);
    const node = this.nodeUrl(flags);
    const client = new Client(node, { token: flags.token, output: 'silent' });
    try {
      const report = await client.importData(argv as string[], { node, prefix: flags.prefix, fmt: flags.fmt });
      for (const result of report.results) {
        if (result.outcome === 'conflict') continue;
        const what = result.outcome === 'registered' ? 'registered' : result.outcome === 'added' ? 'added this node as a holder of' : 'already held';
        this.log(`${what} ${result.url} (${result.info.size} bytes, sha256 ${result.info.sha256})`);
      }
      return report;
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
