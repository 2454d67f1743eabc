import { Args, Command, Flags } from '@oclif/core';
import { Client } from '../../src/client/client.js';
import type { JobHistoryEntry, LiveJob } from '../../src/job-history.js';
import { clientFlags } from '../client-flags.js';

export default class Job extends Command {
  static override description = 'Show one job: function, queue, node, times, outcome, error with its stack, the last 8 KiB of its output';
  static override args = { id: Args.string({ required: true, description: 'the job id' }) };
  static override flags = {
    ...clientFlags,
    json: Flags.boolean({ default: false, description: 'print the entry as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Job);
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const job = await client.job(args.id);
      if (flags.json) {
        this.log(JSON.stringify(job, null, 2));
        return;
      }
      this.log(describe(job));
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function describe(job: JobHistoryEntry | LiveJob): string {
  const lines = [`job       ${job.id}`, `outcome   ${job.outcome}`];
  if (job.fn) lines.push(`function  ${job.fn}`);
  if (job.queue) lines.push(`queue     ${job.queue}`);
  if (job.node) lines.push(`node      ${job.node}`);
  lines.push(`submitted ${time(job.submitted)}`, `started   ${time(job.started)}`);
  if ('ended' in job) {
    lines.push(`ended     ${time(job.ended)} (ran ${job.ended - job.started} ms)`);
    if (job.error) lines.push('', `${job.error.name}: ${job.error.message}`, job.error.stack ?? '(no stack)');
  }
  const cut = job.outputChars > job.output.length ? ` (the last ${job.output.length} of ${job.outputChars} characters)` : '';
  lines.push('', job.output ? `output${cut}:\n${job.output}` : 'no output');
  return lines.join('\n');
}
