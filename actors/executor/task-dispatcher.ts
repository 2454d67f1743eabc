import { packViews } from '../../src/bytes.js';
import type { ActiveJobs } from './active-jobs.js';
import type { Cancellation } from './cancellation.js';
import type { PrefetchPolicy } from './duration-estimate.js';
import type { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob, TaskGroup } from './job-types.js';
import type { WorkerPool } from './worker-pool.js';
import type { WorkerTask } from './worker-protocol.js';

/** Most jobs one piscina task carries. */
const MAX_GROUP = 64;
/** After a thread dies, outcomes it posted just before may still be queued on its channel. */
const CRASH_SETTLE_MS = 20;

export interface TaskDispatcherDeps {
  numWorkers: number;
  jobs: ActiveJobs;
  pool: WorkerPool;
  prefetch: PrefetchPolicy;
  outcomes: JobOutcomes;
  cancellation: Cancellation;
  release: (active: ActiveJob) => void;
}

/**
 * Jobs of short functions dispatched in one turn of the event loop are grouped into piscina
 * tasks (one message to a thread carries many), while there are never fewer tasks than
 * threads. Any other job runs alone: the jobs of a task run one after another on one
 * thread, and a long one must not hold others back while a thread is idle.
 */
export class TaskDispatcher {
  private toDispatch: ActiveJob[] = [];
  private groupSeq = 0;
  private stopping = false;

  constructor(private readonly deps: TaskDispatcherDeps) {}

  /** The node is stopping: a task that fails from now on is the node's to hand over. */
  stop(): void {
    this.stopping = true;
  }

  dispatch(active: ActiveJob): void {
    const long = !this.deps.prefetch.isShort(active.job.fn);
    if (long) this.deps.jobs.markLong(active);
    if (active.options.timeoutMs || long) {
      this.runGroup([active]);
      return;
    }
    this.toDispatch.push(active);
    if (this.toDispatch.length === 1) queueMicrotask(() => this.dispatchGrouped());
  }

  private dispatchGrouped(): void {
    const jobs = this.toDispatch;
    this.toDispatch = [];
    const size = Math.max(1, Math.min(MAX_GROUP, Math.ceil(jobs.length / (this.deps.numWorkers * 2))));
    for (let i = 0; i < jobs.length; i += size) this.runGroup(jobs.slice(i, i + size));
  }

  private runGroup(jobs: ActiveJob[]): void {
    const group: TaskGroup = { jobs, abort: new AbortController(), seq: this.groupSeq++ };
    const sources: Record<string, string> = {};
    for (const active of jobs) {
      active.group = group;
      if (active.prepared) sources[active.job.fn] = active.prepared;
      if (active.options.timeoutMs) {
        // The clock starts at dispatch: time spent waiting for a thread counts too,
        // which errs on the side of never running forever.
        active.timer = setTimeout(() => this.deps.cancellation.timeOut(active), active.options.timeoutMs);
      }
    }
    // Every job's arguments in one buffer of their exact size: a view of a larger buffer (a
    // request body, an ioredis reply) would be copied whole for each task.
    const args = packViews(jobs.map((a) => a.job.args));
    const task: WorkerTask = { sources, jobs: jobs.map((a, i) => ({ ...a.job, args: args[i] })) };
    this.deps.pool.run(task, group.abort.signal).then(
      () => undefined,
      (error: unknown) => setTimeout(() => this.onGroupFailed(group, error), CRASH_SETTLE_MS),
    );
  }

  /**
   * The piscina task did not complete: its thread died or was stopped. Jobs run in order
   * and report in order, so the first job with no outcome was running then, and the ones
   * after it never started: those are dispatched again, not failed.
   */
  private onGroupFailed(group: TaskGroup, error: unknown): void {
    // Stopping: the node hands the jobs it was running over to the live nodes (Reaper.handOver).
    if (this.stopping) return;
    const { jobs, release } = this.deps;
    const unfinished = group.jobs.filter((a) => jobs.has(a));
    const [wasRunning, ...neverStarted] = unfinished;
    if (wasRunning) {
      if (wasRunning.endedBy) {
        release(wasRunning);
      } else {
        const reason = error instanceof Error ? error.message : String(error);
        this.deps.outcomes.finish(wasRunning, {
          ok: false,
          error: { name: 'WorkerCrashed', message: `the worker thread running this job died: ${reason}`, stack: error instanceof Error ? error.stack : undefined },
        });
      }
    }
    for (const active of neverStarted) {
      if (active.endedBy) release(active);
      else this.dispatch(active);
    }
  }
}
