import { Args, Flags } from '@oclif/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import { ClientCommand } from '../client-command.js';
import { clientFlags } from '../client-flags.js';

const FOLLOW_POLL_MS = 500;

export default class Logs extends ClientCommand {
  static override description = 'Print a job\'s output (the last 8 KiB kept by the job history, or what it printed so far while it runs)';
  static override args = { id: Args.string({ ignoreStdin: true, required: true, description: 'the job id' }) };
  static override flags = {
    ...clientFlags,
    follow: Flags.boolean({ char: 'f', default: false, description: 'keep printing new output until the job ends (polled every 0.5 s from the node running it)' }),
  };

  async run(): Promise<{ id: string; outcome: string; output: string; outputChars: number } | undefined> {
    const { args, flags } = await this.parse(Logs);
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      if (this.jsonEnabled()) {
        const job = await client.job(args.id);
        return { id: job.id, outcome: job.outcome, output: job.output, outputChars: job.outputChars };
      }
      let printed = 0; // characters of the job's output printed so far
      for (;;) {
        const job = await client.job(args.id);
        const firstKept = job.outputChars - job.output.length;
        if (printed < firstKept) {
          if (printed > 0) process.stderr.write(`[… ${firstKept - printed} characters of output not kept]\n`);
          printed = firstKept;
        }
        process.stdout.write(job.output.slice(printed - firstKept));
        printed = job.outputChars;
        if (!flags.follow || (job.outcome !== 'running' && job.outcome !== 'queued')) break;
        await sleep(FOLLOW_POLL_MS);
      }
      return undefined;
    } catch (error) {
      this.fail(error, flags);
    } finally {
      await client.close();
    }
  }
}
