import { Actor, type Reply } from '../../src/actor.js';
import type { BusSubscription } from '../../src/bus.js';
import { decode } from '../../src/codec.js';
import { hostQueue } from '../../src/store/keys.js';
import type { ClaimedJob } from '../../src/store/store.js';
import { ActiveJobs } from './active-jobs.js';
import { Cancellation } from './cancellation.js';
import { ClaimLoop } from './claim-loop.js';
import { Drain, type DrainReport } from './drain.js';
import { PrefetchPolicy } from './duration-estimate.js';
import { EventPublisher } from './event-publisher.js';
import type { ExecutorDeps } from './executor-deps.js';
import { JobIntake } from './job-intake.js';
import { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob, DirectJob } from './job-types.js';
import { TaskDispatcher } from './task-dispatcher.js';
import { WorkerPool } from './worker-pool.js';
import { WorkerReports } from './worker-reports.js';
import { cancelSubject, wakeSubject } from '../../src/subjects.js';

export type { DirectJob, JobOptions } from './job-types.js';
export type { DrainReport } from './drain.js';
export type { ExecutorDeps } from './executor-deps.js';

export type ExecutorMessage =
  | { type: 'wake' }
  /** the Scheduler asks how many idle threads it may claim jobs for while enqueueing */
  | { type: 'reserve'; reply: Reply<number> }
  /**
   * ... and hands over what it claimed in the batch's commit (acknowledged by Redis),
   * returning the reservation. The jobs start at once.
   */
  | { type: 'adopt'; jobs: ClaimedJob[]; reserved: number; sources?: Record<string, string> }
  | { type: 'cancel'; ids: string[]; reply: Reply<Map<string, string>> }
  | { type: 'runDirect'; job: DirectJob }
  | { type: 'stats'; reply: Reply<ExecutorStats> };

export interface ExecutorStats {
  threads: number;
  /** threads running a job now */
  busy: number;
  /** jobs claimed by this node and not finished: running, or waiting for a thread */
  active: number;
  capacity: number;
  completed: number;
}

/** How often spilled results nobody collected are looked for. */
const SWEEP_MS = 10 * 60_000;

/**
 * Claims jobs from this node's queues, runs them in the piscina pool and reports outcomes:
 * written to Redis first (the source of truth), then announced on NATS. The work is done by
 * its parts (claim loop, intake, dispatcher, worker pool and reports, outcomes, cancellation,
 * drain); this class wires them together and answers the messages.
 *
 * Mailbox: serial. `adopt` and `cancel` hold it until handled; jobs run beside it (the claim loop, the pool).
 */
export class Executor extends Actor<ExecutorMessage> {
  private readonly jobs = new ActiveJobs();
  private readonly events: EventPublisher;
  private readonly outcomes: JobOutcomes;
  private readonly pool: WorkerPool;
  private readonly cancellation: Cancellation;
  private readonly dispatcher: TaskDispatcher;
  private readonly intake: JobIntake;
  private readonly claims: ClaimLoop;
  private readonly drainer: Drain;
  private readonly subscriptions: BusSubscription[] = [];
  private sweepTimer?: NodeJS.Timeout;
  readonly queues: string[];

  constructor(private readonly deps: ExecutorDeps) {
    super('executor');
    const { queues, nodeName, numWorkers } = deps.config;
    this.queues = [...queues.map((q) => hostQueue(q, nodeName)), ...queues];
    const jobs = this.jobs;
    const events = (this.events = new EventPublisher(deps.bus));
    const prefetch = new PrefetchPolicy(numWorkers);
    const release = (active: ActiveJob) => this.release(active);
    const outcomes = (this.outcomes = new JobOutcomes({ ...deps, events, prefetch, release }));
    const reports = new WorkerReports({ ...deps, jobs, events, outcomes, release });
    const pool = (this.pool = new WorkerPool({ ...deps, jobs, onReport: (report) => reports.handle(report) }));
    const cancellation = (this.cancellation = new Cancellation({ ...deps, jobs, events, pool, outcomes }));
    const dispatcher = (this.dispatcher = new TaskDispatcher({ numWorkers, jobs, pool, prefetch, outcomes, cancellation, release }));
    const intake = (this.intake = new JobIntake({ ...deps, jobs, dispatcher, outcomes }));
    const claims = (this.claims = new ClaimLoop({ ...deps, queues: this.queues, jobs, prefetch, intake }));
    this.drainer = new Drain({ ...deps, jobs, pool, claims, outcomes });
  }

  async start(): Promise<void> {
    const { config, bus, spill } = this.deps;
    this.pool.start();
    for (const queue of this.queues) {
      this.subscriptions.push(bus.subscribe(wakeSubject(bus, queue), () => this.tell({ type: 'wake' })));
    }
    this.subscriptions.push(bus.subscribe(cancelSubject(bus), (data) => {
      this.cancellation.abortRunning(decode<string[]>(data), 'cancelled');
    }));
    this.claims.start();
    this.sweepTimer = setInterval(() => void spill.sweep(config.resultTtlMs), SWEEP_MS);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.claims.stop();
    this.dispatcher.stop();
    this.markStopped();
    clearInterval(this.sweepTimer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    for (const job of this.jobs.values()) clearTimeout(job.timer);
    await this.pool.destroy();
    this.outcomes.flush();
    await this.outcomes.written();
  }

  /** Waits (at most `ms`) until the outcomes handed to Redis so far are written and announced. */
  outcomesWritten(ms = 5_000): Promise<void> {
    return this.outcomes.written(ms);
  }

  /** Jobs claimed by this node and not finished (running, or waiting for a thread). */
  get activeJobs(): number {
    return this.jobs.size;
  }

  /**
   * A graceful stop's first half: claims nothing more, gives back at once the claimed jobs
   * that have not started, and lets the running ones finish (see Drain). `stop()` then ends
   * the rest (the node hands them over).
   */
  finishRunning(timeoutMs: number, cutShort: Promise<unknown>): Promise<DrainReport> {
    return this.drainer.finishRunning(timeoutMs, cutShort);
  }

  protected receive(message: ExecutorMessage): void | Promise<void> {
    switch (message.type) {
      case 'wake':
        this.claims.pump();
        return;
      case 'reserve':
        message.reply.resolve(this.claims.reserve());
        return;
      case 'adopt':
        this.claims.unreserve(message.reserved);
        if (message.jobs.length === 0) {
          this.claims.pump();
          return;
        }
        return this.intake.startClaimed(message.jobs, message.sources, true);
      case 'cancel':
        return this.cancellation.cancel(message.ids).then(message.reply.resolve, message.reply.reject);
      case 'runDirect':
        this.intake.runDirect(message.job);
        return;
      case 'stats': {
        const { numWorkers } = this.deps.config;
        message.reply.resolve({
          threads: numWorkers,
          busy: Math.min(numWorkers, this.jobs.size),
          active: this.jobs.size,
          capacity: this.claims.capacity(),
          completed: this.outcomes.completed,
        });
        return;
      }
    }
  }

  /** The job is over (finished, or ended here and its thread free again): claim again or end a drain. */
  private release(active: ActiveJob): void {
    clearTimeout(active.timer);
    if (!this.jobs.remove(active)) return;
    if (active.endedBy === 'cancel') this.deps.history?.finished(active, { name: 'CancelledError', message: `job ${active.id} was cancelled while it ran` });
    if (active.endedBy === 'cancel' && !active.direct) {
      const { store, config } = this.deps;
      store.jobs.leaveRunning(config.nodeName, active.id);
    }
    if (this.claims.finishing) {
      this.drainer.released();
      return;
    }
    this.claims.released();
  }
}
