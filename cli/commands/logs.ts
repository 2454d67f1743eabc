import { Args, Command, Flags } from '@oclif/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../src/client/client.js';
import { clientFlags } from '../client-flags.js';

const FOLLOW_POLL_MS = 500;

export default class Logs extends Command {
  static override description = 'Print a job\'s output (the last 8 KiB kept by the job history, or what it printed so far while it runs)';
  static override args = { id: Args.string({ required: true, description: 'the job id' }) };
  static override flags = {
    ...clientFlags,
    follow: Flags.boolean({ char: 'f', default: false, description: 'keep printing new output until the job ends (polled every 0.5 s from the node running it)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
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
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}
