import { Command, Flags } from '@oclif/core';
import Table from 'cli-table3';
import { Client } from '../../src/client/client.js';
import type { JobHistoryEntry } from '../../src/job-history.js';
import { clientFlags } from '../client-flags.js';
import { parseDuration } from '../duration.js';

export default class Jobs extends Command {
  static override description = 'List finished jobs from the cluster\'s job history, newest first';
  static override examples = ['ks jobs --failed --since 10m', 'ks jobs --queue gpu --node-name node-a --json'];
  static override flags = {
    ...clientFlags,
    failed: Flags.boolean({ default: false, description: 'only jobs that did not end ok (error, timeout, cancelled)' }),
    queue: Flags.string({ description: 'only jobs of this queue' }),
    'node-name': Flags.string({ description: 'only jobs run by this node' }),
    since: Flags.string({ description: 'only jobs that ended within this long (500ms, 90s, 10m, 2h, 1d)' }),
    search: Flags.string({ description: 'only jobs whose id, function, error or output contains this text' }),
    limit: Flags.integer({ min: 1, max: 10_000, default: 100, description: 'at most this many jobs' }),
    json: Flags.boolean({ default: false, description: 'print the entries as JSON (with stacks and output tails)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Jobs);
    let since: number | undefined;
    try {
      since = flags.since ? Date.now() - parseDuration(flags.since) : undefined;
    } catch (error) {
      this.error(`--since: ${(error as Error).message}`, { exit: 2 });
    }
    const client = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const jobs = await client.jobs({ failed: flags.failed, queue: flags.queue, node: flags['node-name'], since, search: flags.search, limit: flags.limit });
      if (flags.json) {
        this.log(JSON.stringify(jobs, null, 2));
        return;
      }
      if (jobs.length === 0) {
        this.log('no finished jobs match');
        return;
      }
      const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
      const table = new Table({ ...style, head: ['id', 'function', 'queue', 'node', 'ended', 'ran', 'outcome'] });
      for (const job of jobs) table.push([job.id, job.fn, job.queue, job.node, new Date(job.ended).toISOString(), `${job.ended - job.started} ms`, outcomeText(job)]);
      this.log(table.toString());
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await client.close();
    }
  }
}

function outcomeText(job: JobHistoryEntry): string {
  if (!job.error) return job.outcome;
  const text = `${job.outcome}: ${job.error.name}: ${job.error.message}`;
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}
