import { encode } from '../../src/codec.js';
import type { ActiveJobs } from './active-jobs.js';
import type { EventPublisher } from './event-publisher.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob } from './job-types.js';
import type { WorkerPool } from './worker-pool.js';
import { cancelSubject } from '../../src/subjects.js';

const CANCEL_GRACE_MS = 250;

export type CancellationDeps = Pick<ExecutorDeps, 'config' | 'store' | 'bus' | 'metrics'> & {
  jobs: ActiveJobs;
  events: EventPublisher;
  pool: WorkerPool;
  outcomes: JobOutcomes;
};

/** Ends jobs before their thread does: cancellations (anywhere in the cluster) and timeouts. */
export class Cancellation {
  constructor(private readonly deps: CancellationDeps) {}

  /** Cancels jobs wherever they are; returns the state each was in before. */
  async cancel(ids: string[]): Promise<Map<string, string>> {
    const { store, config, metrics, events, bus } = this.deps;
    const before = await store.cancel(ids, config.resultTtlMs);
    const running: string[] = [];
    const states = new Map<string, string>();
    metrics?.jobsEnded([...before].filter(([, b]) => b.state === 'queued' || b.state === 'running').map(([id]) => id), 'cancelled');
    for (const [id, { state, head }] of before) {
      states.set(id, state);
      if (state === 'queued' || state === 'running') {
        events.add(head, { type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } });
      }
      if (state === 'running') running.push(id);
    }
    if (running.length > 0) {
      // Delivered to this node's own subscription too, wherever the job runs.
      bus.publish(cancelSubject(bus), encode(running));
    }
    return states;
  }

  /** Stops the jobs among `ids` that run here (the rest run elsewhere, or are over). */
  abortRunning(ids: string[], reason: string): void {
    const { jobs, pool } = this.deps;
    const mine = ids.map((id) => jobs.get(id)).filter((a): a is ActiveJob => a !== undefined);
    if (mine.length === 0) return;
    for (const active of mine) {
      active.endedBy = 'cancel';
      pool.abort(active.id, reason);
    }
    // Cooperative first: the task's signal fires, and a job that has not started is skipped.
    // A job still running after the grace period has its thread stopped; one still waiting
    // behind another job of its task is left to be skipped, so that job runs on undisturbed.
    setTimeout(() => {
      for (const active of mine) {
        if (jobs.has(active) && jobs.firstUnfinished(active.group) === active) active.group?.abort.abort(new Error(reason));
      }
    }, CANCEL_GRACE_MS).unref();
  }

  timeOut(active: ActiveJob): void {
    if (!this.deps.jobs.has(active)) return;
    const ms = active.options.timeoutMs;
    this.deps.outcomes.finish(active, { ok: false, error: { name: 'TimeoutError', message: `job ${active.id} timed out after ${ms} ms; its worker thread was stopped` } });
    active.endedBy = 'timeout';
    active.group?.abort.abort(new Error('timeout'));
  }
}
