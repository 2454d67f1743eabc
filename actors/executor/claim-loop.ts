import type { ClaimedJob } from '../../src/store/store.js';
import type { ActiveJobs } from './active-jobs.js';
import type { PrefetchPolicy } from './duration-estimate.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { JobIntake } from './job-intake.js';

export type ClaimLoopDeps = Pick<ExecutorDeps, 'config' | 'store' | 'log'> & {
  /** the queues served, host queues first */
  queues: string[];
  jobs: ActiveJobs;
  prefetch: PrefetchPolicy;
  intake: JobIntake;
};

/**
 * Claims jobs from this node's queues while there is room: one per free thread, of any
 * function, plus a prefetch of jobs of short functions (see PrefetchPolicy). Runs when woken,
 * when a job ends after a claim that filled all the room, and on the poll timer.
 */
export class ClaimLoop {
  /** threads promised to the Scheduler for jobs it claims while enqueueing */
  private reserved = 0;
  /** the last claim filled all the room there was: finishing a job should claim again */
  private saturated = false;
  private pumping = false;
  private pumpAgain = false;
  private pollTimer?: NodeJS.Timeout;
  private stopping = false;
  /** no more claims: running jobs finish, then the node stops */
  private finishingNow = false;

  constructor(private readonly deps: ClaimLoopDeps) {}

  get finishing(): boolean {
    return this.finishingNow;
  }

  /** How many jobs this node may hold: its threads plus the prefetch room. */
  capacity(): number {
    return this.deps.prefetch.capacity(this.deps.jobs.long);
  }

  start(): void {
    this.schedulePoll(0);
  }

  /** The node stops: nothing more is claimed, ever. */
  stop(): void {
    this.stopping = true;
    clearTimeout(this.pollTimer);
  }

  /** A drain begins: nothing more is claimed or reserved. */
  finish(): void {
    this.finishingNow = true;
    clearTimeout(this.pollTimer);
  }

  /** Promises the Scheduler this node's idle threads (none while finishing); returns how many. */
  reserve(): number {
    if (this.finishingNow) return 0;
    const idle = Math.max(0, this.deps.config.numWorkers - this.deps.jobs.size - this.reserved);
    this.reserved += idle;
    return idle;
  }

  /** The Scheduler returns a reservation (its jobs, if any, are now active). */
  unreserve(count: number): void {
    this.reserved -= count;
  }

  /** A job ended. */
  released(): void {
    // Claim again only when the queues may hold more than the last claim took.
    if (this.saturated && this.deps.jobs.size <= this.capacity() / 2) this.pump();
  }

  pump(): void {
    if (this.stopping || this.finishingNow) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pumpLoop().finally(() => {
      this.pumping = false;
    });
  }

  private async pumpLoop(): Promise<void> {
    const { config, store, log, jobs, prefetch, intake } = this.deps;
    do {
      this.pumpAgain = false;
      while (!this.stopping && !this.finishingNow) {
        const free = this.capacity() - jobs.size - this.reserved;
        if (free <= 0) {
          // Full: work may be waiting (we were woken), so finishing a job claims again.
          this.saturated = true;
          break;
        }
        const freeThreads = Math.max(0, config.numWorkers - jobs.size - this.reserved);
        let claimed: { jobs: ClaimedJob[]; nextAt: number; held: boolean };
        try {
          claimed = await store.claim(config.nodeName, this.deps.queues, {
            max: free,
            anyFunction: freeThreads,
            prefetchable: prefetch.prefetchable(),
          });
        } catch (error) {
          // A lost connection is reported once by the node's connection watch.
          if (!this.stopping && store.connected) log.warn({ err: error }, 'claim failed; retrying after the poll interval');
          this.schedulePoll(config.pollMs);
          return;
        }
        // Held: a job waits for a free thread here, so finishing a job claims again.
        this.saturated = claimed.jobs.length === free || claimed.held;
        if (claimed.held && claimed.jobs.length === 0) {
          // A thread that came free while the claim was under way saw nothing to claim again.
          if (config.numWorkers - jobs.size - this.reserved > 0) continue;
          break;
        }
        if (claimed.jobs.length === 0) {
          const wait = claimed.nextAt > 0 ? Math.max(1, claimed.nextAt - Date.now()) : config.pollMs;
          this.schedulePoll(Math.min(wait, config.pollMs));
          break;
        }
        await intake.startClaimed(claimed.jobs);
      }
    } while (this.pumpAgain && !this.stopping && !this.finishingNow);
  }

  private schedulePoll(ms: number): void {
    clearTimeout(this.pollTimer);
    if (this.stopping) return;
    this.pollTimer = setTimeout(() => this.pump(), ms);
  }
}
