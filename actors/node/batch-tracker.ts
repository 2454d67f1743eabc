import type { Bus, BusSubscription } from '../../src/bus.js';
import { decode } from '../../src/codec.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { JobEvent, WireJobEvent } from '../../src/protocol.js';
import type { Store } from '../../src/store/store.js';

export interface EventSink {
  /** Receives events in order; returns once they are handed to the transport. */
  send(events: JobEvent[]): void;
  end(): void;
}

export interface TrackerDeps {
  bus: Bus;
  store: Store;
  log: Logger;
  pollMs: number;
}

const POLL_CHUNK = 2000;
/** A finished batch nobody collects is forgotten after this (its jobs expire in Redis later). */
const UNCLAIMED_MS = 10 * 60_000;

/**
 * Follows one batch on its head node: listens to `ks.ev.<batch>` from the moment the batch
 * is submitted, buffers events until the client collects them, fetches large results from
 * Redis, and falls back to reading Redis whenever the events go quiet, so a lost NATS
 * message only delays an outcome. Delivered jobs are deleted from Redis.
 */
export class BatchTracker {
  private readonly pending: Set<string>;
  private readonly finished = new Set<string>();
  private buffer: JobEvent[] = [];
  private sink?: { sink: EventSink; waitingFor: Set<string> };
  private subscription?: BusSubscription;
  private pollTimer?: NodeJS.Timeout;
  private lastEventAt = Date.now();
  private retireTimer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private toDelete: string[] = [];
  private deleteScheduled = false;
  private retired = false;

  constructor(
    readonly batch: string,
    readonly ids: readonly string[],
    private readonly deps: TrackerDeps,
    private readonly onRetire: (tracker: BatchTracker) => void,
  ) {
    this.pending = new Set(ids);
  }

  /** Starts listening. With `pollNow`, reads Redis at once (for batches submitted elsewhere or earlier). */
  start(pollNow: boolean): void {
    const { bus } = this.deps;
    this.subscription = bus.subscribe(bus.subject('ks', 'ev', this.batch), (data) => {
      this.lastEventAt = Date.now();
      let events: WireJobEvent[];
      try {
        events = decode<WireJobEvent[]>(data);
      } catch (error) {
        this.deps.log.warn({ err: error, batch: this.batch }, 'undecodable event frame');
        return;
      }
      this.enqueue(() => this.accept(events));
    });
    this.pollTimer = setInterval(() => this.pollIfQuiet(), this.deps.pollMs);
    this.pollTimer.unref();
    if (pollNow) this.enqueue(() => this.pollRedis());
    this.armRetireTimer();
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  /** Streams this batch's events for `ids` to `sink`, starting with what is buffered. */
  attach(ids: readonly string[], sink: EventSink): void {
    this.sink?.sink.end();
    const waitingFor = new Set(ids.filter((id) => !this.delivered(id)));
    this.sink = { sink, waitingFor };
    clearTimeout(this.retireTimer);
    this.enqueue(async () => this.flush());
  }

  detach(sink: EventSink): void {
    if (this.sink?.sink === sink) {
      this.sink = undefined;
      this.armRetireTimer();
    }
  }

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retireTimer);
    this.subscription?.unsubscribe();
    this.sink?.sink.end();
    this.sink = undefined;
    this.flushDeletes();
    this.onRetire(this);
  }

  private deliveredIds = new Set<string>();
  private delivered(id: string): boolean {
    return this.deliveredIds.has(id);
  }

  /** Event handling is serialised so that fetching a large result never reorders a job's events. */
  private enqueue(step: () => Promise<void> | void): void {
    this.chain = this.chain.then(step).catch((error: unknown) => {
      this.deps.log.error({ err: error, batch: this.batch }, 'batch tracker step failed');
    });
  }

  private async accept(events: WireJobEvent[]): Promise<void> {
    for (const event of events) {
      if (!this.pending.has(event.id)) continue;
      if (event.type === 'output') {
        this.buffer.push(event);
        continue;
      }
      this.pending.delete(event.id);
      this.finished.add(event.id);
      if (event.type === 'done' && 'resultInStore' in event) {
        this.buffer.push(await this.readOutcome(event.id));
      } else {
        this.buffer.push(event as JobEvent);
      }
    }
    this.flush();
  }

  private flush(): void {
    if (!this.sink || this.buffer.length === 0) {
      this.maybeEnd();
      return;
    }
    const { sink, waitingFor } = this.sink;
    const out: JobEvent[] = [];
    const keep: JobEvent[] = [];
    for (const event of this.buffer) {
      if (!waitingFor.has(event.id)) {
        keep.push(event);
        continue;
      }
      out.push(event);
      if (event.type !== 'output') {
        waitingFor.delete(event.id);
        this.deliveredIds.add(event.id);
        this.toDelete.push(event.id);
      }
    }
    this.buffer = keep;
    if (out.length > 0) sink.send(out);
    this.scheduleDeletes();
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.sink && this.sink.waitingFor.size === 0) {
      const { sink } = this.sink;
      this.sink = undefined;
      sink.end();
      if (this.done && this.buffer.length === 0) this.retire();
      else this.armRetireTimer();
    }
  }

  private armRetireTimer(): void {
    clearTimeout(this.retireTimer);
    this.retireTimer = setTimeout(() => this.retire(), UNCLAIMED_MS);
    this.retireTimer.unref();
  }

  private scheduleDeletes(): void {
    if (this.deleteScheduled || this.toDelete.length === 0) return;
    this.deleteScheduled = true;
    setImmediate(() => this.flushDeletes());
  }

  private flushDeletes(): void {
    this.deleteScheduled = false;
    const ids = this.toDelete;
    this.toDelete = [];
    const { redis, keys } = this.deps.store;
    for (let i = 0; i < ids.length; i += 1000) {
      redis.unlink(...ids.slice(i, i + 1000).map((id) => keys.job(id))).catch(() => undefined);
    }
  }

  private pollIfQuiet(): void {
    if (this.pending.size === 0) return;
    if (Date.now() - this.lastEventAt < this.deps.pollMs) return;
    this.enqueue(() => this.pollRedis());
  }

  /** Reads the state of unfinished jobs from Redis and turns finished ones into events. */
  private async pollRedis(): Promise<void> {
    const ids = [...this.pending];
    const { redis, keys } = this.deps.store;
    for (let start = 0; start < ids.length; start += POLL_CHUNK) {
      const chunk = ids.slice(start, start + POLL_CHUNK);
      const pipeline = redis.pipeline();
      for (const id of chunk) pipeline.hmget(keys.job(id), 'st');
      const rows = (await pipeline.exec()) ?? [];
      const settled: string[] = [];
      rows.forEach(([error, row], i) => {
        const state = error ? undefined : (row as (string | null)[])[0];
        if (state !== 'queued' && state !== 'running' && state !== undefined) settled.push(chunk[i]);
      });
      const events: JobEvent[] = [];
      for (const id of settled) {
        if (!this.pending.has(id)) continue;
        events.push(await this.readOutcome(id));
      }
      await this.accept(events);
    }
  }

  private async readOutcome(id: string): Promise<JobEvent> {
    const { redis, keys } = this.deps.store;
    const [st, res, err] = await redis.hmgetBuffer(keys.job(id), 'st', 'res', 'err');
    const state = st?.toString();
    if (state === 'done' && res) return { type: 'done', id, result: res };
    if (state === 'failed' && err) return { type: 'failed', id, error: decode<RemoteErrorInfo>(err) };
    if (state === 'cancelled') return { type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } };
    return { type: 'failed', id, error: { name: 'JobLost', message: `job ${id} is no longer in Redis (expired or deleted before its outcome was collected)` } };
  }
}

/** The trackers of one node, by batch. */
export class BatchTrackers {
  private readonly byBatch = new Map<string, BatchTracker>();

  constructor(private readonly deps: TrackerDeps) {}

  /** A tracker for a batch this node is about to submit: listening before any job exists. */
  open(batch: string, ids: readonly string[]): BatchTracker {
    const tracker = new BatchTracker(batch, ids, this.deps, (t) => this.byBatch.delete(t.batch));
    this.byBatch.set(batch, tracker);
    tracker.start(false);
    return tracker;
  }

  /** The tracker for a batch, created from Redis when this node has none (submitted elsewhere, or long ago). */
  follow(batch: string, ids: readonly string[]): BatchTracker {
    const existing = this.byBatch.get(batch);
    if (existing) return existing;
    const tracker = new BatchTracker(batch, ids, this.deps, (t) => this.byBatch.delete(t.batch));
    this.byBatch.set(batch, tracker);
    tracker.start(true);
    return tracker;
  }

  closeAll(): void {
    for (const tracker of [...this.byBatch.values()]) tracker.retire();
  }
}
