import type { ActiveJobs } from './active-jobs.js';
import type { ClaimLoop } from './claim-loop.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob, TaskGroup } from './job-types.js';
import type { WorkerPool } from './worker-pool.js';

/** How a drain ended. */
export interface DrainReport {
  /** jobs claimed but not started, queued again for other nodes at once */
  handedBack: number;
  /** jobs still running when the drain ended (timeout or cut short): the node hands them over */
  unfinished: number;
}

export type DrainDeps = Pick<ExecutorDeps, 'config' | 'store' | 'log'> & {
  jobs: ActiveJobs;
  pool: WorkerPool;
  claims: ClaimLoop;
  outcomes: JobOutcomes;
};

/** A graceful stop's first half: the claimed jobs not started go back, the running ones finish. */
export class Drain {
  private drained?: () => void;

  constructor(private readonly deps: DrainDeps) {}

  /**
   * Claims nothing more, gives back at once the claimed jobs that have not started
   * (prefetched, or waiting for a thread), and lets the running ones finish, their outcomes
   * reported as usual. Resolves when none is left, after `timeoutMs`, or when `cutShort`
   * settles; `Executor.stop()` then ends the rest (the node hands them over).
   */
  async finishRunning(timeoutMs: number, cutShort: Promise<unknown>): Promise<DrainReport> {
    const { jobs, claims, outcomes, log } = this.deps;
    claims.finish();
    const handedBack = await this.handBackUnstarted().catch((error: unknown) => {
      log.warn({ err: error }, 'could not hand back the jobs not started yet; they are handed over at the stop');
      return 0;
    });
    if (jobs.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => { this.drained = resolve; }),
        new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
        cutShort,
      ]);
      clearTimeout(timer);
      this.drained = undefined;
    }
    outcomes.flush();
    await outcomes.written();
    return { handedBack, unfinished: jobs.size };
  }

  /** A job ended while finishing: the drain is over when none is left. */
  released(): void {
    if (this.deps.jobs.size === 0) this.drained?.();
  }

  /**
   * Jobs run in order within a task, and piscina starts tasks in the order given: beyond the
   * first `numWorkers` unfinished tasks nothing has started, and within one only its first
   * unfinished job may have. The others are aborted on their thread (skipped when their turn
   * comes) and queued again. A job that started in the meantime runs on; its outcome is
   * ignored and it runs again elsewhere (at least once).
   */
  private async handBackUnstarted(): Promise<number> {
    const { jobs, pool, store, config } = this.deps;
    const groups = new Set<TaskGroup>();
    for (const active of jobs.values()) if (active.group && !active.direct && !active.endedBy) groups.add(active.group);
    const ordered = [...groups].sort((a, b) => a.seq - b.seq);
    const unstarted: ActiveJob[] = [];
    ordered.forEach((group, index) => {
      const open = group.jobs.filter((a) => jobs.has(a) && !a.endedBy);
      unstarted.push(...(index < config.numWorkers ? open.slice(1) : open));
    });
    // Without Redis they stay claimed; the stop's hand-over (or the reaper) takes them back.
    if (unstarted.length === 0 || !store.connected) return 0;
    const given = new Set(await store.handBack(config.nodeName, unstarted.map((a) => a.id)));
    for (const active of unstarted) {
      if (!given.has(active.id)) continue;
      active.endedBy = 'handback';
      pool.abort(active.id, 'handed back: the node is stopping');
    }
    return given.size;
  }
}
