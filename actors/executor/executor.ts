import { Piscina } from 'piscina';
import type { MessagePort } from 'node:worker_threads';
import { Actor, type Reply } from '../../src/actor.js';
import type { Bus, BusSubscription } from '../../src/bus.js';
import { decode, encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import { prepareSource } from '../../src/function-source.js';
import type { Logger } from '../../src/log.js';
import type { WireJobEvent } from '../../src/protocol.js';
import { hostQueue } from '../../src/store/keys.js';
import type { ClaimedJob, JobOutcomeRecord, Store } from '../../src/store/store.js';
import { PrefetchPolicy } from './duration-estimate.js';
import { EventPublisher } from './event-publisher.js';
import type { ChannelHandshake, WorkerData, WorkerJob, WorkerMessage } from './worker-protocol.js';

/** Options a job carries (stored CBOR-encoded with the job). */
export interface JobOptions {
  name?: string;
  /** false: do not forward output */
  output?: boolean;
  timeoutMs?: number;
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
  | { type: 'cancel'; ids: string[]; reply: Reply<Map<string, string>> }
  | { type: 'runDirect'; job: DirectJob }
  | { type: 'stats'; reply: Reply<ExecutorStats> };

export interface ExecutorStats {
  threads: number;
  active: number;
  capacity: number;
  completed: number;
}

interface ActiveJob {
  id: string;
  job: WorkerJob;
  options: JobOptions;
  direct: boolean;
  abort: AbortController;
  timer?: NodeJS.Timeout;
  startedAt: number;
  /** set when the executor itself ended the job (timeout, cancel): the thread's word no longer counts */
  endedBy?: 'timeout' | 'cancel';
}

export interface ExecutorDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  log: Logger;
}

const CANCEL_GRACE_MS = 250;

/**
 * Claims jobs from this node's queues, runs them in the piscina pool and reports outcomes:
 * written to Redis first (the source of truth), then announced on NATS.
 */
export class Executor extends Actor<ExecutorMessage> {
  private pool!: Piscina;
  private readonly ports: MessagePort[] = [];
  private readonly active = new Map<string, ActiveJob>();
  private readonly prepared = new Map<string, string>();
  private readonly events: EventPublisher;
  private readonly prefetch: PrefetchPolicy;
  private readonly subscriptions: BusSubscription[] = [];
  private outcomes: { record: JobOutcomeRecord; event: WireJobEvent }[] = [];
  private outcomeFlushScheduled = false;
  private pumping = false;
  private pumpAgain = false;
  private pollTimer?: NodeJS.Timeout;
  private stopping = false;
  private completed = 0;
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
    const workerData: WorkerData = { modulePath: config.modulePath, node: { name: config.nodeName, url: config.nodeUrl } };
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: config.numWorkers,
      maxThreads: config.numWorkers,
      idleTimeout: Number.POSITIVE_INFINITY,
      // 'disabled': an idle thread keeps its event loop running, so a timer a finished
      // task left behind fires (and crashes) then, not inside the next task.
      atomics: 'disabled',
      workerData,
    });
    this.pool.on('message', (message: ChannelHandshake) => {
      if (message && typeof message === 'object' && 'ksChannel' in message) this.adoptChannel(message.ksChannel);
    });
    this.pool.on('error', (error: unknown) => this.deps.log.error({ err: error }, 'worker pool error'));
    for (const queue of this.queues) {
      this.subscriptions.push(this.deps.bus.subscribe(this.deps.bus.subject('ks', 'wake', queue), () => this.tell({ type: 'wake' })));
    }
    this.subscriptions.push(this.deps.bus.subscribe(this.deps.bus.subject('ks', 'cancel'), (data) => {
      this.abortRunning(decode<string[]>(data), 'cancelled');
    }));
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.markStopped();
    clearTimeout(this.pollTimer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    for (const job of this.active.values()) clearTimeout(job.timer);
    await this.pool?.destroy();
    this.flushOutcomes();
  }

  protected receive(message: ExecutorMessage): void | Promise<void> {
    switch (message.type) {
      case 'wake':
        this.pump();
        return;
      case 'cancel':
        return this.cancel(message.ids).then(message.reply.resolve, message.reply.reject);
      case 'runDirect':
        this.runDirect(message.job);
        return;
      case 'stats':
        message.reply.resolve({
          threads: this.deps.config.numWorkers,
          active: this.active.size,
          capacity: this.prefetch.capacity(),
          completed: this.completed,
        });
        return;
    }
  }

  private adoptChannel(port: MessagePort): void {
    this.ports.push(port);
    port.on('message', (message: WorkerMessage) => this.onWorkerMessage(message));
    port.on('close', () => {
      const index = this.ports.indexOf(port);
      if (index >= 0) this.ports.splice(index, 1);
    });
  }

  // ---- claiming --------------------------------------------------------------------

  private pump(): void {
    if (this.stopping) return;
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
      while (!this.stopping) {
        const free = this.prefetch.capacity() - this.active.size;
        if (free <= 0) break;
        let claimed: { jobs: ClaimedJob[]; nextAt: number };
        try {
          claimed = await this.deps.store.claim(this.deps.config.nodeName, this.queues, free);
        } catch (error) {
          if (!this.stopping) this.deps.log.warn({ err: error }, 'claim failed; retrying after the poll interval');
          this.schedulePoll(this.deps.config.pollMs);
          return;
        }
        if (claimed.jobs.length === 0) {
          const wait = claimed.nextAt > 0 ? Math.max(1, claimed.nextAt - Date.now()) : this.deps.config.pollMs;
          this.schedulePoll(Math.min(wait, this.deps.config.pollMs));
          break;
        }
        await this.startClaimed(claimed.jobs);
      }
    } while (this.pumpAgain && !this.stopping);
  }

  private schedulePoll(ms: number): void {
    clearTimeout(this.pollTimer);
    if (this.stopping) return;
    this.pollTimer = setTimeout(() => this.pump(), ms);
  }

  private async startClaimed(jobs: ClaimedJob[]): Promise<void> {
    const missing = [...new Set(jobs.filter((j) => j.kind === 'shipped' && !this.prepared.has(j.fn)).map((j) => j.fn))];
    const sourceErrors = new Map<string, RemoteErrorInfo>();
    if (missing.length > 0) {
      const sources = await this.deps.store.redis.mget(...missing.map((sha) => this.deps.store.keys.fn(sha)));
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
    for (const claimed of jobs) {
      const options = claimed.opts ? decode<JobOptions>(claimed.opts) : {};
      const sourceError = sourceErrors.get(claimed.fn);
      const job: WorkerJob = {
        id: claimed.id,
        fn: claimed.fn,
        registered: claimed.kind === 'registered',
        prepared: claimed.kind === 'shipped' ? this.prepared.get(claimed.fn) : undefined,
        name: options.name ?? claimed.fn,
        args: claimed.args,
        queue: claimed.queue,
        output: options.output !== false,
      };
      const active = this.track(job, options, false);
      if (sourceError) this.finishJob(active, { ok: false, error: sourceError });
      else this.dispatch(active);
    }
  }

  private runDirect(direct: DirectJob): void {
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
      prepared,
      name: direct.options.name ?? direct.fn,
      args: direct.args,
      queue: '',
      output: direct.options.output !== false,
    };
    this.dispatch(this.track(job, direct.options, true));
  }

  private track(job: WorkerJob, options: JobOptions, direct: boolean): ActiveJob {
    const active: ActiveJob = { id: job.id, job, options, direct, abort: new AbortController(), startedAt: performance.now() };
    this.active.set(job.id, active);
    return active;
  }

  // ---- running ---------------------------------------------------------------------

  private dispatch(active: ActiveJob): void {
    if (active.options.timeoutMs) {
      // The clock starts at dispatch: a job waiting behind others in the pool counts too,
      // which errs on the side of never running forever.
      active.timer = setTimeout(() => this.timeOut(active), active.options.timeoutMs);
    }
    this.pool.run({ jobs: [active.job] }, { signal: active.abort.signal }).then(
      () => undefined,
      (error: unknown) => setImmediate(() => this.onTaskFailed(active, error)),
    );
  }

  private onWorkerMessage(message: WorkerMessage): void {
    const active = this.active.get(message.id);
    if (!active || active.endedBy) return;
    switch (message.t) {
      case 'out':
        if (active.job.output) this.events.add({ type: 'output', id: message.id, stream: message.s, text: message.d }, message.d.length + 32);
        return;
      case 'done':
        this.finishJob(active, { ok: true, result: message.r });
        return;
      case 'fail':
        this.finishJob(active, { ok: false, error: message.e });
        return;
    }
  }

  /** The piscina task did not complete: the thread died, or we aborted it. */
  private onTaskFailed(active: ActiveJob, error: unknown): void {
    if (this.active.get(active.id) !== active || active.endedBy) {
      this.release(active);
      return;
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.finishJob(active, {
      ok: false,
      error: { name: 'WorkerCrashed', message: `the worker thread running this job died: ${reason}`, stack: error instanceof Error ? error.stack : undefined },
    });
  }

  private timeOut(active: ActiveJob): void {
    if (this.active.get(active.id) !== active) return;
    const ms = active.options.timeoutMs;
    this.finishJob(active, { ok: false, error: { name: 'TimeoutError', message: `job ${active.id} timed out after ${ms} ms; its worker thread was stopped` } });
    active.endedBy = 'timeout';
    active.abort.abort(new Error('timeout'));
  }

  private abortRunning(ids: string[], reason: string): void {
    const mine = ids.map((id) => this.active.get(id)).filter((a): a is ActiveJob => a !== undefined);
    if (mine.length === 0) return;
    for (const active of mine) {
      active.endedBy = 'cancel';
      for (const port of this.ports) port.postMessage({ t: 'abort', id: active.id, reason });
    }
    // Cooperative first (the task's signal fires), then the thread is stopped.
    setTimeout(() => {
      for (const active of mine) {
        if (this.active.get(active.id) === active) {
          active.abort.abort(new Error(reason));
          this.release(active);
        }
      }
    }, CANCEL_GRACE_MS).unref();
  }

  private async cancel(ids: string[]): Promise<Map<string, string>> {
    const before = await this.deps.store.cancel(ids, this.deps.config.resultTtlMs);
    const running: string[] = [];
    for (const [id, state] of before) {
      if (state === 'queued' || state === 'running') {
        this.events.add({ type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } });
      }
      if (state === 'running') running.push(id);
    }
    if (running.length > 0) {
      // Delivered to this node's own subscription too, wherever the job runs.
      this.deps.bus.publish(this.deps.bus.subject('ks', 'cancel'), encode(running));
    }
    return before;
  }

  // ---- outcomes --------------------------------------------------------------------

  private finishJob(active: ActiveJob, outcome: { ok: true; result: Uint8Array } | { ok: false; error: RemoteErrorInfo }): void {
    this.release(active);
    this.prefetch.record(performance.now() - active.startedAt);
    this.completed++;
    const { id } = active;
    let event: WireJobEvent;
    let record: JobOutcomeRecord;
    if (outcome.ok) {
      record = { id, status: 'done', field: 'res', value: outcome.result };
      event = outcome.result.byteLength <= this.deps.config.inlineResultBytes
        ? { type: 'done', id, result: outcome.result }
        : { type: 'done', id, resultInStore: true };
    } else {
      record = { id, status: 'failed', field: 'err', value: encode(outcome.error) };
      event = { type: 'failed', id, error: outcome.error };
    }
    if (active.direct) {
      this.events.add(event, outcome.ok ? outcome.result.byteLength + 32 : 512);
      return;
    }
    this.outcomes.push({ record, event });
    if (!this.outcomeFlushScheduled) {
      this.outcomeFlushScheduled = true;
      setImmediate(() => this.flushOutcomes());
    }
  }

  private release(active: ActiveJob): void {
    clearTimeout(active.timer);
    if (this.active.get(active.id) !== active) return;
    this.active.delete(active.id);
    if (active.endedBy === 'cancel' && !active.direct) {
      const { store, config } = this.deps;
      store.redis.srem(store.keys.running(config.nodeName), active.id).catch(() => undefined);
    }
    if (this.active.size <= this.prefetch.capacity() / 2) this.pump();
  }

  private flushOutcomes(): void {
    this.outcomeFlushScheduled = false;
    const batch = this.outcomes;
    this.outcomes = [];
    if (batch.length === 0) return;
    const { store, config, log } = this.deps;
    store.finish(config.nodeName, batch.map((o) => o.record), config.resultTtlMs).then(
      (ignored) => {
        for (const { event } of batch) {
          if (!ignored.has(event.id)) this.events.add(event, 'result' in event ? event.result.byteLength + 32 : 256);
        }
      },
      (error: unknown) => {
        // Redis is unreachable: the outcomes are still announced; the jobs' records will
        // expire, and a client that missed the event gets a clear "lost" error from its tracker.
        log.error({ err: error, jobs: batch.length }, 'could not record job outcomes in Redis');
        for (const { event } of batch) this.events.add(event);
      },
    );
  }
}

