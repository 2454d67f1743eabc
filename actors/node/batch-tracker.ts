import type { Bus, BusSubscription } from '../../src/bus.js';
import { decode } from '../../src/codec.js';
import { batchOfJob } from '../../src/ids.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { JobEvent, WireJobEvent } from '../../src/protocol.js';
import type { Store } from '../../src/store/store.js';
import { eventSubject } from '../executor/event-publisher.js';

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
  /** this node's name: executors send the events of its jobs to ks.ev.<nodeName> */
  nodeName: string;
  /** takes a result that a node kept (this one or a peer) */
  takeSpilled(id: string, node: string): Promise<Uint8Array>;
  /** the outcomes of these jobs were delivered: what this node kept of them may go */
  delivered?(ids: readonly string[]): void;
}

const POLL_CHUNK = 2000;
/** A finished batch nobody collects is forgotten after this (its jobs expire in Redis later). */
const UNCLAIMED_MS = 10 * 60_000;

/** How many results kept on other nodes' disks one tracker fetches at a time. */
const FETCH_CONCURRENCY = 8;

/**
 * Follows one batch on its head node: receives its events from the moment the batch is
 * submitted, buffers them until the client collects them, fetches large results from
 * Redis or from the node that kept them (several at a time; a job's outcome is its last
 * event, so fetching it never reorders that job's events), and falls back to reading Redis
 * whenever the events go quiet, so a lost NATS message only delays an outcome. Delivered
 * jobs are deleted from Redis.
 */
export class BatchTracker {
  private readonly pending: Set<string>;
  private buffer: JobEvent[] = [];
  private sink?: { sink: EventSink; waitingFor: Set<string> };
  private lastEventAt = Date.now();
  private retireTimer?: NodeJS.Timeout;
  private retired = false;
  private polling = false;
  /** outcomes to fetch, and how many fetches are under way */
  private readonly toFetch: string[] = [];
  private fetching = 0;
  private readonly deliveredIds = new Set<string>();
  /** its submit is still being written: a job not (yet) in Redis is not an outcome */
  private submitting = false;

  constructor(
    readonly batch: string,
    readonly ids: readonly string[],
    private readonly deps: TrackerDeps,
    private readonly onRetire: (tracker: BatchTracker) => void,
    /** false for jobs run with `async: false`, which never touch Redis */
    private readonly inRedis = true,
  ) {
    this.pending = new Set(ids);
  }

  /** With `pollNow`, reads Redis at once (for batches submitted elsewhere or earlier). */
  start(pollNow: boolean): void {
    if (pollNow) void this.pollRedis();
    this.armRetireTimer();
  }

  /** Until `submitted()`, Redis is not read: the submit's jobs may not be there yet. */
  submitStarted(): void {
    this.submitting = true;
  }

  submitted(): void {
    this.submitting = false;
  }

  receive(events: readonly WireJobEvent[]): void {
    this.lastEventAt = Date.now();
    this.accept(events);
  }

  get done(): boolean {
    return this.pending.size === 0;
  }

  /** Streams this batch's events for `ids` to `sink`, starting with what is buffered. */
  attach(ids: readonly string[], sink: EventSink): void {
    this.sink?.sink.end();
    const waitingFor = new Set(ids.filter((id) => !this.deliveredIds.has(id)));
    this.sink = { sink, waitingFor };
    clearTimeout(this.retireTimer);
    // Asynchronously, as before: the caller finishes setting up its stream first.
    queueMicrotask(() => this.flush());
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
    clearTimeout(this.retireTimer);
    this.sink?.sink.end();
    this.sink = undefined;
    this.onRetire(this);
  }

  private accept(events: readonly (WireJobEvent | JobEvent)[]): void {
    for (const event of events) {
      if (!this.pending.has(event.id)) continue;
      if (event.type === 'output') {
        this.buffer.push(event);
        continue;
      }
      this.pending.delete(event.id);
      if (event.type === 'done' && !('result' in event)) this.fetch(event.id);
      else this.buffer.push(event as JobEvent);
    }
    this.flush();
  }

  /** Reads an outcome that did not travel in its event; at most FETCH_CONCURRENCY at a time. */
  private fetch(id: string): void {
    this.toFetch.push(id);
    this.startFetches();
  }

  private startFetches(): void {
    while (this.fetching < FETCH_CONCURRENCY && this.toFetch.length > 0) {
      const id = this.toFetch.shift()!;
      this.fetching++;
      void this.readOutcome(id)
        .catch((error: unknown): JobEvent => ({ type: 'failed', id, error: { name: 'JobLost', message: `the outcome of job ${id} could not be read: ${(error as Error).message}` } }))
        .then((event) => {
          this.fetching--;
          this.buffer.push(event);
          this.startFetches();
          this.flush();
        });
    }
  }

  private flush(): void {
    if (!this.sink || this.buffer.length === 0) {
      this.maybeEnd();
      return;
    }
    const { sink, waitingFor } = this.sink;
    const out: JobEvent[] = [];
    const keep: JobEvent[] = [];
    const delivered: string[] = [];
    for (const event of this.buffer) {
      if (!waitingFor.has(event.id)) {
        keep.push(event);
        continue;
      }
      out.push(event);
      if (event.type !== 'output') {
        waitingFor.delete(event.id);
        this.deliveredIds.add(event.id);
        delivered.push(event.id);
      }
    }
    this.buffer = keep;
    if (out.length > 0) sink.send(out);
    if (delivered.length > 0 && this.inRedis) {
      // Delivered jobs are deleted from Redis (batched by the store) and forgotten here.
      this.deps.delivered?.(delivered);
      this.deps.store.forget(delivered);
    }
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.sink && this.sink.waitingFor.size === 0) {
      const { sink } = this.sink;
      this.sink = undefined;
      sink.end();
      if (this.done && this.buffer.length === 0 && this.fetching === 0) this.retire();
      else this.armRetireTimer();
    }
  }

  private armRetireTimer(): void {
    clearTimeout(this.retireTimer);
    this.retireTimer = setTimeout(() => this.retire(), UNCLAIMED_MS);
    this.retireTimer.unref();
  }

  pollIfQuiet(): void {
    if (this.pending.size === 0 || !this.inRedis || this.submitting) return;
    if (Date.now() - this.lastEventAt < this.deps.pollMs) return;
    void this.pollRedis();
  }

  /** Reads the state of unfinished jobs from Redis and turns finished ones into events. */
  private async pollRedis(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = [...this.pending];
      const { redis, keys } = this.deps.store;
      for (let start = 0; start < ids.length; start += POLL_CHUNK) {
        const chunk = ids.slice(start, start + POLL_CHUNK);
        const pipeline = redis.pipeline();
        for (const id of chunk) pipeline.hmget(keys.job(id), 'st');
        const rows = (await pipeline.exec()) ?? [];
        const settled: WireJobEvent[] = [];
        rows.forEach(([error, row], i) => {
          const state = error ? undefined : (row as (string | null)[])[0];
          // Read like a large result: by fetch, several at a time.
          if (state !== 'queued' && state !== 'running' && state !== undefined) settled.push({ type: 'done', id: chunk[i], resultInStore: true });
        });
        this.accept(settled);
      }
    } catch (error) {
      this.deps.log.error({ err: error, batch: this.batch }, 'batch tracker could not read Redis');
    } finally {
      this.polling = false;
    }
  }

  private async readOutcome(id: string): Promise<JobEvent> {
    const { redis, keys } = this.deps.store;
    const [st, res, err, spill] = await redis.hmgetBuffer(keys.job(id), 'st', 'res', 'err', 'spill');
    const state = st?.toString();
    if (state === 'done' && res) return { type: 'done', id, result: res };
    if (state === 'done' && spill) {
      const node = spill.toString();
      try {
        return { type: 'done', id, result: await this.deps.takeSpilled(id, node) };
      } catch (error) {
        return { type: 'failed', id, error: { name: 'JobLost', message: `the result of job ${id} was kept on node ${node}, which could not hand it over: ${(error as Error).message}` } };
      }
    }
    if (state === 'failed' && err) return { type: 'failed', id, error: decode<RemoteErrorInfo>(err) };
    if (state === 'cancelled') return { type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } };
    return { type: 'failed', id, error: { name: 'JobLost', message: `job ${id} is no longer in Redis (expired or deleted before its outcome was collected)` } };
  }
}

/**
 * The trackers of one node, by batch. One subscription (`ks.ev.<node>`) receives the events
 * of every job this node submitted, and one timer drives every tracker's Redis fallback.
 */
export class BatchTrackers {
  private readonly byBatch = new Map<string, BatchTracker>();
  private readonly subscriptions: BusSubscription[];
  private readonly pollTimer: NodeJS.Timeout;

  constructor(private readonly deps: TrackerDeps) {
    const subject = eventSubject(deps.bus, deps.nodeName);
    // Events from other nodes' executors arrive over NATS, this node's own as they are.
    this.subscriptions = [
      deps.bus.subscribe(subject, (data) => this.routeBytes(data)),
      deps.bus.receiveLocally<WireJobEvent[]>(subject, (events) => this.route(events)),
    ];
    this.pollTimer = setInterval(() => {
      for (const tracker of this.byBatch.values()) tracker.pollIfQuiet();
    }, deps.pollMs);
    this.pollTimer.unref();
  }

  /** A tracker for a batch this node is about to submit (or run directly), in place before any job exists. */
  open(batch: string, ids: readonly string[], options: { inRedis?: boolean } = {}): BatchTracker {
    return this.add(new BatchTracker(batch, ids, this.deps, (t) => this.forget(t), options.inRedis ?? true), false);
  }

  /** The tracker for a batch, created from Redis when this node has none (submitted elsewhere, or long ago). */
  follow(batch: string, ids: readonly string[]): BatchTracker {
    return this.byBatch.get(batch) ?? this.add(new BatchTracker(batch, ids, this.deps, (t) => this.forget(t)), true);
  }

  closeAll(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    clearInterval(this.pollTimer);
    for (const tracker of [...this.byBatch.values()]) tracker.retire();
  }

  private add(tracker: BatchTracker, pollNow: boolean): BatchTracker {
    this.byBatch.set(tracker.batch, tracker);
    tracker.start(pollNow);
    return tracker;
  }

  private forget(tracker: BatchTracker): void {
    if (this.byBatch.get(tracker.batch) === tracker) this.byBatch.delete(tracker.batch);
  }

  private routeBytes(data: Uint8Array): void {
    let events: WireJobEvent[];
    try {
      events = decode<WireJobEvent[]>(data);
    } catch (error) {
      this.deps.log.warn({ err: error }, 'undecodable event frame');
      return;
    }
    this.route(events);
  }

  /** Events arrive grouped by head node, in order; each batch's run goes to its tracker. */
  private route(events: readonly WireJobEvent[]): void {
    let batch = '';
    let group: WireJobEvent[] = [];
    for (const event of events) {
      const of = batchOfJob(event.id);
      if (of !== batch) {
        if (group.length > 0) this.byBatch.get(batch)?.receive(group);
        batch = of;
        group = [];
      }
      group.push(event);
    }
    if (group.length > 0) this.byBatch.get(batch)?.receive(group);
  }
}
