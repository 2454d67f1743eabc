import { Flags } from '@oclif/core';
import Table from 'cli-table3';
import { Client } from '../../src/client/client.js';
import type { JobHistoryEntry } from '../../src/job-history.js';
import { ClientCommand } from '../client-command.js';
import { clientFlags } from '../client-flags.js';
import { parseDuration } from '../duration.js';

export default class Jobs extends ClientCommand {
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
  };

  async run(): Promise<JobHistoryEntry[]> {
    const { flags } = await this.parse(Jobs);
    let since: number | undefined;
    try {
      since = flags.since ? Date.now() - parseDuration(flags.since) : undefined;
    } catch (error) {
      this.error(`--since: ${(error as Error).message} (for example --since 10m)`, { exit: 2 });
    }
    const client = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
    try {
      const jobs = await client.jobs({ failed: flags.failed, queue: flags.queue, node: flags['node-name'], since, search: flags.search, limit: flags.limit });
      if (jobs.length === 0) {
        this.log('no finished jobs match');
        return jobs;
      }
      const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
      const table = new Table({ ...style, head: ['id', 'function', 'queue', 'node', 'ended', 'ran', 'outcome'] });
      for (const job of jobs) table.push([job.id, job.fn, job.queue, job.node, new Date(job.ended).toISOString(), `${job.ended - job.started} ms`, outcomeText(job)]);
      this.log(table.toString());
      return jobs;
    } catch (error) {
      this.fail(error, flags);
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
