import { Args } from '@oclif/core';
import { Client } from '../../src/client/client.js';
import type { JobHistoryEntry, LiveJob } from '../../src/job-history.js';
import { ClientCommand } from '../client-command.js';
import { clientFlags } from '../client-flags.js';

export default class Job extends ClientCommand {
  static override description = 'Show one job: function, queue, node, times, outcome, error with its stack, the last 8 KiB of its output';
  static override args = { id: Args.string({ ignoreStdin: true, required: true, description: 'the job id' }) };
  static override flags = clientFlags;

  async run(): Promise<JobHistoryEntry | LiveJob> {
    const { args, flags } = await this.parse(Job);
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      const job = await client.job(args.id);
      this.log(describe(job));
      return job;
    } catch (error) {
      this.fail(error, flags);
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
