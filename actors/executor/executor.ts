import { Piscina } from 'piscina';
import type { MessagePort } from 'node:worker_threads';
import { Actor, type Reply } from '../../src/actor.js';
import type { Bus, BusSubscription } from '../../src/bus.js';
import { decode, encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import { checkedErrorInfo, type RemoteErrorInfo } from '../../src/errors.js';
import { prepareSource } from '../../src/function-source.js';
import type { Logger } from '../../src/log.js';
import type { JobEvent, WireJobEvent } from '../../src/protocol.js';
import { hostQueue } from '../../src/store/keys.js';
import type { ClaimedJob, JobOutcomeRecord, Store } from '../../src/store/store.js';
import { cancelSubject, wakeSubject } from '../../src/subjects.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { HistoryRecorder } from '../node/history/history-recorder.js';
import { PrefetchPolicy } from './duration-estimate.js';
import type { ResultSpill } from './result-spill.js';
import { EventPublisher } from './event-publisher.js';
import { packViews } from '../../src/bytes.js';
import type { ChannelHandshake, MainMessage, WorkerData, WorkerJob, WorkerMessage, WorkerReport, WorkerTask } from './worker-protocol.js';

/** Options a job carries (stored CBOR-encoded with the job). */
export interface JobOptions {
  name?: string;
  /** false: do not forward output */
  output?: boolean;
  timeoutMs?: number;
  /** the job is a chunk of a map: see WorkerJob.each */
  each?: boolean;
  /** the named environment its packages come from (`--env`) */
  env?: string;
}

/** A job handed to the executor without going through Redis (`callWith({ async: false })`). */
export interface DirectJob {
  id: string;
  fn: string;
  registered: boolean;
  source?: string;
  args: Uint8Array;
  options: JobOptions;
}

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

interface ActiveJob {
  id: string;
  job: WorkerJob;
  options: JobOptions;
  /** the node whose client waits for this job's events */
  head: string;
  direct: boolean;
  /** shipped functions: the source prepared by `prepareSource`, sent once per task */
  prepared?: string;
  group?: TaskGroup;
  timer?: NodeJS.Timeout;
  startedAt: number;
  /** set when the executor itself ended the job (timeout, cancel, handed back by a drain): the thread's word no longer counts */
  endedBy?: 'timeout' | 'cancel' | 'handback';
  /** its function is not known to be short: it runs alone and nothing is prefetched for its thread */
  long?: boolean;
}

export interface ExecutorDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  log: Logger;
  spill: ResultSpill;
  /** serves a worker thread's remote-data port (the DataHolder's task API) */
  onDataPort?: (port: MessagePort) => void;
  metrics?: NodeMetrics;
  history?: HistoryRecorder;
}

/** The jobs of one piscina task. */
interface TaskGroup {
  jobs: ActiveJob[];
  abort: AbortController;
  /** dispatch order: piscina starts tasks first come, first served */
  seq: number;
}

/** How a drain ended. */
export interface DrainReport {
  /** jobs claimed but not started, queued again for other nodes at once */
  handedBack: number;
  /** jobs still running when the drain ended (timeout or cut short): the node hands them over */
  unfinished: number;
}

const CANCEL_GRACE_MS = 250;
/** How often spilled results nobody collected are looked for. */
const SWEEP_MS = 10 * 60_000;
/** Most jobs one piscina task carries. */
const MAX_GROUP = 64;
/** After a thread dies, outcomes it posted just before may still be queued on its channel. */
const CRASH_SETTLE_MS = 20;
/** Output is forwarded in pieces of at most this many UTF-16 units (≤ 192 KiB of UTF-8). */
const OUTPUT_PIECE_CHARS = 64 * 1024;
/** A remote error's message and stack are cut to this many characters each. */
const ERROR_TEXT_CHARS = 32 * 1024;

/** Splits text into pieces of at most `max` UTF-16 units, never inside a surrogate pair. */
function textPieces(text: string, max: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length;) {
    const end = pieceEnd(text, start, max);
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces.length > 0 ? pieces : [text];
}

function pieceEnd(text: string, start: number, max: number): number {
  const end = Math.min(start + max, text.length);
  const last = text.charCodeAt(end - 1);
  return end < text.length && last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

/** A thrown error's text stays small enough to travel in an event; the rest is counted, not sent. */
function boundedError(error: RemoteErrorInfo): RemoteErrorInfo {
  const cut = (text: string) => {
    if (text.length <= ERROR_TEXT_CHARS) return text;
    const end = pieceEnd(text, 0, ERROR_TEXT_CHARS);
    return `${text.slice(0, end)}… (${text.length - end} more characters)`;
  };
  return { ...error, message: cut(error.message), stack: error.stack === undefined ? undefined : cut(error.stack) };
}

/**
 * Claims jobs from this node's queues, runs them in the piscina pool and reports outcomes:
 * written to Redis first (the source of truth), then announced on NATS.
 *
 * Mailbox: serial. `adopt` and `cancel` hold it until handled; jobs run beside it (the claim loop, the pool).
 */
export class Executor extends Actor<ExecutorMessage> {
  private pool!: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly active = new Map<string, ActiveJob>();
  private toDispatch: ActiveJob[] = [];
  /** threads promised to the Scheduler for jobs it claims while enqueueing */
  private reserved = 0;
  /** the last claim filled all the room there was: finishing a job should claim again */
  private saturated = false;
  private readonly prepared = new Map<string, string>();
  private readonly events: EventPublisher;
  private readonly prefetch: PrefetchPolicy;
  private readonly subscriptions: BusSubscription[] = [];
  /** outcomes to write; `event` is set when it may only be announced after the write */
  private outcomes: { record: JobOutcomeRecord; head: string; event?: WireJobEvent }[] = [];
  private outcomeFlushScheduled = false;
  private pumping = false;
  private pumpAgain = false;
  private pollTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private stopping = false;
  /** no more claims: running jobs finish, then the node stops */
  private finishing = false;
  private drained?: () => void;
  private groupSeq = 0;
  /** outcome writes under way, which a stop waits for */
  private readonly writes = new Set<Promise<unknown>>();
  private completed = 0;
  /** active jobs marked `long` */
  private longJobs = 0;
  readonly queues: string[];

  constructor(private readonly deps: ExecutorDeps) {
    super('executor');
    this.events = new EventPublisher(deps.bus);
    this.prefetch = new PrefetchPolicy(deps.config.numWorkers);
    const { queues, nodeName } = deps.config;
    this.queues = [...queues.map((q) => hostQueue(q, nodeName)), ...queues];
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    const workerData: WorkerData = { modulePath: config.modulePath, node: { name: config.nodeName, url: config.nodeUrl }, envs: config.envs };
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: config.numWorkers,
      maxThreads: config.numWorkers,
      idleTimeout: Number.POSITIVE_INFINITY,
      // 'disabled': an idle thread keeps its event loop running, so a timer a finished
      // task left behind fires (and crashes) then, not inside the next task.
      atomics: 'disabled',
      // No run/wait-time histograms: nothing reads them, and they cost per task.
      recordTiming: false,
      workerData,
    });
    this.pool.on('message', (message: ChannelHandshake) => {
      if (message && typeof message === 'object' && 'ksChannel' in message) {
        this.adoptChannel(message.ksChannel);
        if (message.ksData) this.deps.onDataPort?.(message.ksData);
      }
    });
    this.pool.on('error', (error: unknown) => this.deps.log.error({ err: error }, 'worker pool error'));
    for (const queue of this.queues) {
      this.subscriptions.push(this.deps.bus.subscribe(wakeSubject(this.deps.bus, queue), () => this.tell({ type: 'wake' })));
    }
    this.subscriptions.push(this.deps.bus.subscribe(cancelSubject(this.deps.bus), (data) => {
      this.abortRunning(decode<string[]>(data), 'cancelled');
    }));
    this.schedulePoll(0);
    this.sweepTimer = setInterval(() => void this.deps.spill.sweep(config.resultTtlMs), SWEEP_MS);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.markStopped();
    clearTimeout(this.pollTimer);
    clearInterval(this.sweepTimer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    for (const job of this.active.values()) clearTimeout(job.timer);
    await this.pool?.destroy();
    this.flushOutcomes();
    await this.outcomesWritten();
  }

  /** Waits (at most `ms`) until the outcomes handed to Redis so far are written and announced. */
  async outcomesWritten(ms = 5_000): Promise<void> {
    if (this.writes.size === 0 || !this.deps.store.connected) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.writes]),
      new Promise((resolve) => { timer = setTimeout(resolve, ms); }),
    ]);
    clearTimeout(timer);
    this.events.flush();
  }

  /** Jobs claimed by this node and not finished (running, or waiting for a thread). */
  get activeJobs(): number {
    return this.active.size;
  }

  /**
   * A graceful stop's first half: claims nothing more, gives back at once the claimed jobs
   * that have not started (prefetched, or waiting for a thread), and lets the running ones
   * finish, their outcomes reported as usual. Resolves when none is left, after `timeoutMs`,
   * or when `cutShort` settles; `stop()` then ends the rest (the node hands them over).
   */
  async finishRunning(timeoutMs: number, cutShort: Promise<unknown>): Promise<DrainReport> {
    this.finishing = true;
    clearTimeout(this.pollTimer);
    const handedBack = await this.handBackUnstarted().catch((error: unknown) => {
      this.deps.log.warn({ err: error }, 'could not hand back the jobs not started yet; they are handed over at the stop');
      return 0;
    });
    if (this.active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => { this.drained = resolve; }),
        new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
        cutShort,
      ]);
      clearTimeout(timer);
      this.drained = undefined;
    }
    this.flushOutcomes();
    await this.outcomesWritten();
    return { handedBack, unfinished: this.active.size };
  }

  /**
   * Jobs run in order within a task, and piscina starts tasks in the order given: beyond the
   * first `numWorkers` unfinished tasks nothing has started, and within one only its first
   * unfinished job may have. The others are aborted on their thread (skipped when their turn
   * comes) and queued again. A job that started in the meantime runs on; its outcome is
   * ignored and it runs again elsewhere (at least once).
   */
  private async handBackUnstarted(): Promise<number> {
    const groups = new Set<TaskGroup>();
    for (const active of this.active.values()) if (active.group && !active.direct && !active.endedBy) groups.add(active.group);
    const ordered = [...groups].sort((a, b) => a.seq - b.seq);
    const unstarted: ActiveJob[] = [];
    ordered.forEach((group, index) => {
      const open = group.jobs.filter((a) => this.active.get(a.id) === a && !a.endedBy);
      unstarted.push(...(index < this.deps.config.numWorkers ? open.slice(1) : open));
    });
    const { store, config } = this.deps;
    // Without Redis they stay claimed; the stop's hand-over (or the reaper) takes them back.
    if (unstarted.length === 0 || !store.connected) return 0;
    const given = new Set(await store.handBack(config.nodeName, unstarted.map((a) => a.id)));
    for (const active of unstarted) {
      if (!given.has(active.id)) continue;
      active.endedBy = 'handback';
      for (const port of this.ports) port.postMessage({ t: 'abort', id: active.id, reason: 'handed back: the node is stopping' } satisfies MainMessage);
    }
    return given.size;
  }

  protected receive(message: ExecutorMessage): void | Promise<void> {
    switch (message.type) {
      case 'wake':
        this.pump();
        return;
      case 'reserve': {
        if (this.finishing) {
          message.reply.resolve(0);
          return;
        }
        const idle = Math.max(0, this.deps.config.numWorkers - this.active.size - this.reserved);
        this.reserved += idle;
        message.reply.resolve(idle);
        return;
      }
      case 'adopt':
        this.reserved -= message.reserved;
        if (message.jobs.length === 0) {
          this.pump();
          return;
        }
        return this.startClaimed(message.jobs, message.sources, true);
      case 'cancel':
        return this.cancel(message.ids).then(message.reply.resolve, message.reply.reject);
      case 'runDirect':
        this.runDirect(message.job);
        return;
      case 'stats':
        message.reply.resolve({
          threads: this.deps.config.numWorkers,
          busy: Math.min(this.deps.config.numWorkers, this.active.size),
          active: this.active.size,
          capacity: this.capacity(),
          completed: this.completed,
        });
        return;
    }
  }

  private adoptChannel(port: MessagePort): void {
    this.ports.push(port);
    port.on('message', (reports: WorkerMessage) => {
      for (const report of reports) this.onWorkerReport(report);
    });
    // A thread started after a cancellation (replacing a stopped one) must skip those jobs too.
    for (const active of this.active.values()) {
      if (active.endedBy === 'cancel' || active.endedBy === 'handback') port.postMessage({ t: 'abort', id: active.id, reason: active.endedBy } satisfies MainMessage);
    }
    port.on('close', () => {
      const index = this.ports.indexOf(port);
      if (index >= 0) this.ports.splice(index, 1);
    });
  }

  // ---- claiming --------------------------------------------------------------------

  private capacity(): number {
    return this.prefetch.capacity(this.longJobs);
  }

  private pump(): void {
    if (this.stopping || this.finishing) return;
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
    do {
      this.pumpAgain = false;
      while (!this.stopping && !this.finishing) {
        const free = this.capacity() - this.active.size - this.reserved;
        if (free <= 0) {
          // Full: work may be waiting (we were woken), so finishing a job claims again.
          this.saturated = true;
          break;
        }
        const freeThreads = Math.max(0, this.deps.config.numWorkers - this.active.size - this.reserved);
        let claimed: { jobs: ClaimedJob[]; nextAt: number; held: boolean };
        try {
          claimed = await this.deps.store.claim(this.deps.config.nodeName, this.queues, {
            max: free,
            anyFunction: freeThreads,
            prefetchable: this.prefetch.prefetchable(),
          });
        } catch (error) {
          // A lost connection is reported once by the node's connection watch.
          if (!this.stopping && this.deps.store.connected) this.deps.log.warn({ err: error }, 'claim failed; retrying after the poll interval');
          this.schedulePoll(this.deps.config.pollMs);
          return;
        }
        // Held: a job waits for a free thread here, so finishing a job claims again.
        this.saturated = claimed.jobs.length === free || claimed.held;
        if (claimed.held && claimed.jobs.length === 0) {
          // A thread that came free while the claim was under way saw nothing to claim again.
          if (this.deps.config.numWorkers - this.active.size - this.reserved > 0) continue;
          break;
        }
        if (claimed.jobs.length === 0) {
          const wait = claimed.nextAt > 0 ? Math.max(1, claimed.nextAt - Date.now()) : this.deps.config.pollMs;
          this.schedulePoll(Math.min(wait, this.deps.config.pollMs));
          break;
        }
        await this.startClaimed(claimed.jobs);
      }
    } while (this.pumpAgain && !this.stopping && !this.finishing);
  }

  private schedulePoll(ms: number): void {
    clearTimeout(this.pollTimer);
    if (this.stopping) return;
    this.pollTimer = setTimeout(() => this.pump(), ms);
  }

  private async startClaimed(jobs: ClaimedJob[], given?: Record<string, string>, adopted = false): Promise<void> {
    const missing = [...new Set(jobs.filter((j) => j.kind === 'shipped' && !this.prepared.has(j.fn)).map((j) => j.fn))];
    const sourceErrors = new Map<string, RemoteErrorInfo>();
    if (missing.length > 0) {
      const sources = given ? missing.map((sha) => given[sha] ?? null) : await this.deps.store.jobs.sources(missing);
      missing.forEach((sha, i) => {
        const source = sources[i];
        if (source == null) {
          sourceErrors.set(sha, { name: 'FunctionMissing', message: `the source of function ${sha.slice(0, 12)} is no longer in Redis` });
          return;
        }
        try {
          this.prepared.set(sha, prepareSource(source, ''));
        } catch (error) {
          sourceErrors.set(sha, { name: 'CompileError', message: (error as Error).message });
        }
      });
    }
    this.deps.metrics?.jobsStarted(jobs, adopted);
    // Claimed jobs of one kind share their options' bytes (see Store.claim): decoded once.
    let optionBytes: Uint8Array | null = null;
    let decodedOptions: JobOptions = {};
    for (const claimed of jobs) {
      if (claimed.opts !== optionBytes) {
        optionBytes = claimed.opts;
        decodedOptions = optionBytes ? decode<JobOptions>(optionBytes) : {};
      }
      const options = decodedOptions;
      const sourceError = sourceErrors.get(claimed.fn);
      const job: WorkerJob = {
        id: claimed.id,
        fn: claimed.fn,
        registered: claimed.kind === 'registered',
        name: options.name ?? claimed.fn,
        args: claimed.args,
        queue: claimed.queue,
        attempt: claimed.attempts + 1,
        output: options.output !== false,
        each: options.each,
        env: options.env,
      };
      this.deps.log.debug({ job: claimed.id, fn: job.name, queue: claimed.queue }, 'job claimed');
      const active = this.track(job, options, claimed.head, false, claimed.kind === 'shipped' ? this.prepared.get(claimed.fn) : undefined);
      if (sourceError) this.finishJob(active, { ok: false, error: sourceError });
      else this.dispatch(active);
    }
  }

  private runDirect(direct: DirectJob): void {
    this.deps.metrics?.directSubmitted();
    let prepared: string | undefined;
    if (!direct.registered) {
      prepared = this.prepared.get(direct.fn);
      if (!prepared) {
        prepared = prepareSource(direct.source ?? '', direct.options.name ?? '');
        this.prepared.set(direct.fn, prepared);
      }
    }
    const job: WorkerJob = {
      id: direct.id,
      fn: direct.fn,
      registered: direct.registered,
      name: direct.options.name ?? direct.fn,
      args: direct.args,
      queue: '',
      attempt: 1,
      output: direct.options.output !== false,
      each: direct.options.each,
    };
    this.dispatch(this.track(job, direct.options, this.deps.config.nodeName, true, prepared));
  }

  private track(job: WorkerJob, options: JobOptions, head: string, direct: boolean, prepared: string | undefined): ActiveJob {
    const active: ActiveJob = { id: job.id, job, options, head, direct, prepared, startedAt: performance.now() };
    this.active.set(job.id, active);
    this.deps.history?.started(active);
    return active;
  }

  // ---- running ---------------------------------------------------------------------

  /**
   * Jobs of short functions dispatched in one turn of the event loop are grouped into piscina
   * tasks (one message to a thread carries many), while there are never fewer tasks than
   * threads. Any other job runs alone: the jobs of a task run one after another on one
   * thread, and a long one must not hold others back while a thread is idle.
   */
  private dispatch(active: ActiveJob): void {
    const long = !this.prefetch.isShort(active.job.fn);
    if (long && !active.long) {
      active.long = true;
      this.longJobs++;
    }
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
    const size = Math.max(1, Math.min(MAX_GROUP, Math.ceil(jobs.length / (this.deps.config.numWorkers * 2))));
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
        active.timer = setTimeout(() => this.timeOut(active), active.options.timeoutMs);
      }
    }
    // Every job's arguments in one buffer of their exact size: a view of a larger buffer (a
    // request body, an ioredis reply) would be copied whole for each task.
    const args = packViews(jobs.map((a) => a.job.args));
    const task: WorkerTask = { sources, jobs: jobs.map((a, i) => ({ ...a.job, args: args[i] })) };
    this.pool.run(task, { signal: group.abort.signal }).then(
      () => undefined,
      (error: unknown) => setTimeout(() => this.onGroupFailed(group, error), CRASH_SETTLE_MS),
    );
  }

  private onWorkerReport(message: WorkerReport): void {
    const active = this.active.get(message.id);
    if (!active) return;
    if (active.endedBy) {
      // Cancelled: its outcome no longer counts, but the job is over and its thread is free.
      if (message.t !== 'out') this.release(active);
      return;
    }
    switch (message.t) {
      case 'out':
        this.deps.history?.output(message.id, message.d);
        if (!active.job.output) return;
        // Pieces small enough for one NATS message each (a frame is at most 512 KiB).
        for (const text of textPieces(message.d, OUTPUT_PIECE_CHARS)) {
          this.events.add(active.head, { type: 'output', id: message.id, stream: message.s, text }, 3 * text.length + 32);
        }
        return;
      case 'done':
        this.finishJob(active, { ok: true, result: message.r }, message.ms);
        return;
      case 'fail':
        this.finishJob(active, { ok: false, error: boundedError(checkedErrorInfo(message.e)) }, message.ms);
        return;
    }
  }

  /**
   * The piscina task did not complete: its thread died or was stopped. Jobs run in order
   * and report in order, so the first job with no outcome was running then, and the ones
   * after it never started: those are dispatched again, not failed.
   */
  private onGroupFailed(group: TaskGroup, error: unknown): void {
    // Stopping: the node hands the jobs it was running over to the live nodes (Reaper.handOver).
    if (this.stopping) return;
    const unfinished = group.jobs.filter((a) => this.active.get(a.id) === a);
    const [wasRunning, ...neverStarted] = unfinished;
    if (wasRunning) {
      if (wasRunning.endedBy) {
        this.release(wasRunning);
      } else {
        const reason = error instanceof Error ? error.message : String(error);
        this.finishJob(wasRunning, {
          ok: false,
          error: { name: 'WorkerCrashed', message: `the worker thread running this job died: ${reason}`, stack: error instanceof Error ? error.stack : undefined },
        });
      }
    }
    for (const active of neverStarted) {
      if (active.endedBy) this.release(active);
      else this.dispatch(active);
    }
  }

  private timeOut(active: ActiveJob): void {
    if (this.active.get(active.id) !== active) return;
    const ms = active.options.timeoutMs;
    this.finishJob(active, { ok: false, error: { name: 'TimeoutError', message: `job ${active.id} timed out after ${ms} ms; its worker thread was stopped` } });
    active.endedBy = 'timeout';
    active.group?.abort.abort(new Error('timeout'));
  }

  private abortRunning(ids: string[], reason: string): void {
    const mine = ids.map((id) => this.active.get(id)).filter((a): a is ActiveJob => a !== undefined);
    if (mine.length === 0) return;
    for (const active of mine) {
      active.endedBy = 'cancel';
      for (const port of this.ports) port.postMessage({ t: 'abort', id: active.id, reason } satisfies MainMessage);
    }
    // Cooperative first: the task's signal fires, and a job that has not started is skipped.
    // A job still running after the grace period has its thread stopped; one still waiting
    // behind another job of its task is left to be skipped, so that job runs on undisturbed.
    setTimeout(() => {
      for (const active of mine) {
        if (this.active.get(active.id) === active && this.firstUnfinished(active.group) === active) active.group?.abort.abort(new Error(reason));
      }
    }, CANCEL_GRACE_MS).unref();
  }

  /** Jobs of a task run in order: the first one without an outcome is running (or the task has not started). */
  private firstUnfinished(group: TaskGroup | undefined): ActiveJob | undefined {
    return group?.jobs.find((a) => this.active.get(a.id) === a);
  }

  private async cancel(ids: string[]): Promise<Map<string, string>> {
    const before = await this.deps.store.cancel(ids, this.deps.config.resultTtlMs);
    const running: string[] = [];
    const states = new Map<string, string>();
    this.deps.metrics?.jobsEnded([...before].filter(([, b]) => b.state === 'queued' || b.state === 'running').map(([id]) => id), 'cancelled');
    for (const [id, { state, head }] of before) {
      states.set(id, state);
      if (state === 'queued' || state === 'running') {
        this.events.add(head, { type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } });
      }
      if (state === 'running') running.push(id);
    }
    if (running.length > 0) {
      // Delivered to this node's own subscription too, wherever the job runs.
      this.deps.bus.publish(cancelSubject(this.deps.bus), encode(running));
    }
    return states;
  }

  // ---- outcomes --------------------------------------------------------------------

  /**
   * `ranMs`: how long the job ran on its thread. Without it (a timeout, a crash), the time
   * since it was claimed counts, waiting included.
   */
  private finishJob(active: ActiveJob, outcome: { ok: true; result: Uint8Array } | { ok: false; error: RemoteErrorInfo }, ranMs?: number): void {
    this.deps.log.debug({ job: active.id, ok: outcome.ok, ranMs }, 'job finished');
    this.release(active);
    // The prefetch follows how long jobs run, not how long they waited behind prefetched ones
    // (which made it claim ~20 no-ops at a time instead of hundreds).
    this.prefetch.record(active.job.fn, ranMs ?? performance.now() - active.startedAt);
    this.completed++;
    this.deps.metrics?.jobFinished(active.job.queue, outcome.ok ? undefined : outcome.error.name, ranMs, active.startedAt);
    this.deps.history?.finished(active, outcome.ok ? undefined : outcome.error);
    this.publishOutcome(active, outcome);
  }

  /** Hands an outcome to its waiting tracker and to Redis (the source of truth). */
  private publishOutcome(active: ActiveJob, outcome: { ok: true; result: Uint8Array } | { ok: false; error: RemoteErrorInfo }): void {
    const { id } = active;
    const event: JobEvent = outcome.ok ? { type: 'done', id, result: outcome.result } : { type: 'failed', id, error: outcome.error };
    if (active.direct) {
      // Not in Redis: the tracker waiting for it is in this process.
      this.events.publishLocal(active.head, event);
      return;
    }
    const { config, spill } = this.deps;
    // This node's own clients get the outcome in memory, whatever its size (see EventPublisher).
    const local = active.head === config.nodeName;
    if (outcome.ok && outcome.result.byteLength > config.spillResultBytes) {
      // Kept on this node (in memory, on disk if not taken soon); Redis records where.
      spill.keep(id, outcome.result);
      const record: JobOutcomeRecord = { id, status: 'done', field: 'spill', value: config.nodeName };
      if (local) {
        this.events.add(active.head, event);
        this.queueOutcome({ record, head: active.head });
      } else {
        this.queueOutcome({ record, head: active.head, event: { type: 'done', id, resultAt: config.nodeName } });
      }
      return;
    }
    const record: JobOutcomeRecord = outcome.ok
      ? { id, status: 'done', field: 'res', value: outcome.result }
      : { id, status: 'failed', field: 'err', value: encode(outcome.error) };
    const size = outcome.ok ? outcome.result.byteLength : 3 * (outcome.error.message.length + (outcome.error.stack?.length ?? 0)) + 64;
    if (local || size <= config.inlineResultBytes) {
      // Announced while it is written: the client need not wait for Redis. If the job was
      // cancelled meanwhile, the client already has its first outcome and ignores this one.
      this.events.add(active.head, event, local ? undefined : size + 32);
      this.queueOutcome({ record, head: active.head });
    } else {
      this.queueOutcome({ record, head: active.head, event: { type: 'done', id, resultInStore: true } });
    }
  }

  private queueOutcome(entry: { record: JobOutcomeRecord; head: string; event?: WireJobEvent }): void {
    this.outcomes.push(entry);
    if (!this.outcomeFlushScheduled) {
      this.outcomeFlushScheduled = true;
      setImmediate(() => this.flushOutcomes());
    }
  }

  private release(active: ActiveJob): void {
    clearTimeout(active.timer);
    if (this.active.get(active.id) !== active) return;
    this.active.delete(active.id);
    if (active.long) this.longJobs--;
    if (active.endedBy === 'cancel') this.deps.history?.finished(active, { name: 'CancelledError', message: `job ${active.id} was cancelled while it ran` });
    if (active.endedBy === 'cancel' && !active.direct) {
      const { store, config } = this.deps;
      store.jobs.leaveRunning(config.nodeName, active.id);
    }
    if (this.finishing) {
      if (this.active.size === 0) this.drained?.();
      return;
    }
    // Claim again only when the queues may hold more than the last claim took.
    if (this.saturated && this.active.size <= this.capacity() / 2) this.pump();
  }

  private flushOutcomes(): void {
    this.outcomeFlushScheduled = false;
    const batch = this.outcomes;
    this.outcomes = [];
    if (batch.length === 0) return;
    const { store, config, log } = this.deps;
    const written = store.finish(config.nodeName, batch.map((o) => o.record), config.resultTtlMs).then(
      (ignored) => {
        for (const { record, event, head } of batch) {
          if (ignored.has(record.id)) {
            // Cancelled or re-queued meanwhile: a result kept here will never be taken.
            if (record.field === 'spill') this.deps.spill.discard(record.id);
          } else if (event) {
            this.events.add(head, event);
          }
        }
      },
      (error: unknown) => {
        log.error({ err: error, jobs: batch.length }, 'could not record job outcomes in Redis');
        for (const { record, event, head } of batch) {
          if (event) this.events.add(head, { type: 'failed', id: record.id, error: { name: 'StoreError', message: `the result of job ${record.id} could not be stored: ${(error as Error).message}` } });
        }
      },
    );
    this.writes.add(written);
    void written.finally(() => this.writes.delete(written));
  }
}

