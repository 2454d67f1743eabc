import { Args, Flags } from '@oclif/core';
import { Client } from '../../src/client/client.js';
import { ClientCommand } from '../client-command.js';
import { clientFlags } from '../client-flags.js';

export default class Cancel extends ClientCommand {
  static override description = 'Cancel jobs by id, or every queued and running job of the cluster with --all';
  static override strict = false;
  static override args = { ids: Args.string({ ignoreStdin: true, description: 'job ids' }) };
  static override flags = {
    ...clientFlags,
    all: Flags.boolean({ default: false, description: 'cancel every queued and running job of the cluster' }),
  };

  async run(): Promise<{ cancelled: string[] }> {
    const { argv, flags } = await this.parse(Cancel);
    const ids = argv as string[];
    if (flags.all === (ids.length > 0)) this.error('give job ids, or --all (not both)', { exit: 2 });
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      if (flags.all) {
        const cancelled = await client.cancelEveryJob();
        this.log(`cancelled ${cancelled.length} job(s)`);
        return { cancelled };
      }
      await client.bulkCancel(ids);
      this.log(`cancelled ${ids.length} job(s) (jobs already finished keep their outcome)`);
      return { cancelled: ids };
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
