import type { Bus, BusSubscription } from '../../src/bus.js';
import { decode } from '../../src/codec.js';
import { batchOfJob, batchTime, jobIndex } from '../../src/ids.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { JobEvent, WireJobEvent } from '../../src/protocol.js';
import type { Store } from '../../src/store/store.js';
import { eventSubject } from '../../src/subjects.js';
import { ResultGone } from './take-spilled.js';

export interface EventSink {
  /**
   * Receives events in order; returns once they are handed to the transport. `written` is
   * told later whether they reached the connection (false: the client went away before).
   */
  send(events: JobEvent[], written?: (ok: boolean) => void): void;
  end(): void;
}

export interface TrackerDeps {
  bus: Bus;
  store: Store;
  log: Logger;
  pollMs: number;
  /** this node's name: executors send the events of its jobs to ks.ev.<nodeName> */
  nodeName: string;
  /**
   * The longest a job's record can live after its submit was acknowledged: the job TTL (it
   * may wait or run that long) plus the result TTL (its outcome then waits that long).
   */
  recordLifetimeMs: number;
  /** takes a result that a node kept (this one or a peer); throws ResultGone when it surely is */
  takeSpilled(id: string, node: string): Promise<Uint8Array>;
  /** the outcomes of these jobs were delivered: what this node kept of them may go */
  delivered?(ids: readonly string[]): void;
}

const POLL_CHUNK = 2000;
/** A finished batch nobody collects is forgotten after this (its jobs expire in Redis later). */
const UNCLAIMED_MS = 10 * 60_000;

/** How many results kept on other nodes' disks one tracker fetches at a time. */
const FETCH_CONCURRENCY = 8;

/** What proves that a job its head cannot find is lost (never a guess: see `lossProof`). */
type LossProof = 'delivered' | 'expired' | 'data-loss';

function lostEvent(id: string, proof: LossProof, recordLifetimeMs: number): JobEvent {
  const why = proof === 'delivered'
    ? 'its outcome was already delivered (to an earlier request for it), and its record deleted'
    : proof === 'expired'
      ? `its record expired (no outcome within ${recordLifetimeMs} ms of its submit: the job TTL plus the result TTL)`
      : 'Redis lost its data (epoch changed) after the job was submitted';
  return { type: 'failed', id, error: { name: 'JobLost', message: `job ${id} is lost: ${why}` } };
}

/**
 * Follows one batch on its head node: receives its events from the moment the batch is
 * submitted, buffers them until the client collects them, fetches large results from
 * Redis or from the node that kept them (several at a time; a job's outcome is its last
 * event, so fetching it never reorders that job's events), and falls back to reading Redis
 * whenever the events go quiet, so a lost NATS message only delays an outcome. Delivered
 * jobs are marked delivered and deleted from Redis. A job it cannot find is reported lost
 * only with a proof (`lossProof`), never because a read came too early or Redis was slow.
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
  /**
   * When Redis acknowledged every job of the batch (performance.now(); undefined while the
   * submit is under way): until then a job not found is not a fact, only a write not done yet.
   */
  private ackedAt?: number;
  /** when the batch id was made (performance.now() scale): its jobs were written after that */
  private readonly createdAt: number;
  /** when this node last learned that Redis lost its data (performance.now()) */
  private dataLostAt = -Infinity;
  private pollAgain = false;

  constructor(
    readonly batch: string,
    readonly ids: readonly string[],
    private readonly deps: TrackerDeps,
    private readonly onRetire: (tracker: BatchTracker) => void,
    /** false for jobs run with `async: false`, which never touch Redis */
    private readonly inRedis = true,
  ) {
    this.pending = new Set(ids);
    const made = batchTime(batch);
    this.createdAt = Number.isFinite(made) ? performance.now() - Math.max(0, Date.now() - made) : performance.now();
  }

  /** With `pollNow`, reads Redis at once (for batches submitted elsewhere or earlier). */
  start(pollNow: boolean): void {
    if (pollNow) void this.pollRedis();
    this.armRetireTimer();
  }

  /** Redis acknowledged the batch's jobs (the submit resolved): from now on, Redis must have them. */
  acked(): void {
    this.ackedAt ??= performance.now();
  }

  /**
   * This node saw that Redis lost its data (at `at`, performance.now()): jobs written before
   * and not found now are lost. Reads Redis at once unless `poll` is false.
   */
  dataLost(at = performance.now(), poll = true): void {
    this.dataLostAt = Math.max(this.dataLostAt, at);
    if (poll && this.pending.size > 0 && this.inRedis) void this.pollRedis();
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
        .catch((error: unknown) => {
          // Not a fact about the job: Redis (or the peer keeping the result) did not answer.
          this.deps.log.warn({ err: error, job: id }, 'could not read an outcome; reading it again later');
          return undefined;
        })
        .then((event) => {
          this.fetching--;
          // Not settled after all (not found, or unreadable): pending again, for the polls to decide.
          if (event) this.buffer.push(event);
          else this.pending.add(id);
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
    if (out.length > 0) sink.send(out, delivered.length > 0 && this.inRedis ? (ok) => this.written(out, delivered, ok) : undefined);
    this.maybeEnd();
  }

  /**
   * Jobs whose outcome reached the client's connection are deleted from Redis (batched by the
   * store) and what this node kept of them goes. Outcomes the connection never took are
   * buffered again, for the client's next attach here, and stay in Redis for any other node.
   */
  private written(sent: readonly JobEvent[], delivered: readonly string[], ok: boolean): void {
    if (ok) {
      this.deps.delivered?.(delivered);
      this.deps.store.forget(delivered, this.deps.recordLifetimeMs);
      return;
    }
    if (this.retired) return;
    const outcomes = sent.filter((event) => event.type !== 'output');
    for (const event of outcomes) this.deliveredIds.delete(event.id);
    this.buffer = [...outcomes, ...this.buffer];
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
    if (this.pending.size === 0 || !this.inRedis || this.ackedAt === undefined) return;
    if (Date.now() - this.lastEventAt < this.deps.pollMs) return;
    void this.pollRedis();
  }

  /**
   * Reads the state of unfinished jobs from Redis and turns finished ones into events. A job
   * not found is reported lost only with a proof (`lossProof`); otherwise it stays pending and
   * the next poll looks again. A Redis error proves nothing: the jobs stay pending.
   */
  private async pollRedis(): Promise<void> {
    // While the submit is under way, a job not found yet is a write not done yet.
    if (this.ackedAt === undefined || this.retired) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      const ids = [...this.pending];
      for (let start = 0; start < ids.length; start += POLL_CHUNK) {
        const chunk = ids.slice(start, start + POLL_CHUNK);
        const sentAt = performance.now();
        const { states, delivered } = await this.deps.store.jobs.poll(this.batch, chunk);
        const settled: (WireJobEvent | JobEvent)[] = [];
        states.forEach((state, i) => {
          if (state === undefined) return; // this read failed
          const id = chunk[i];
          if (state === 'queued' || state === 'running') return;
          if (state === null) {
            const proof = delivered !== undefined && isMarked(delivered, jobIndex(id)) ? 'delivered' : this.lossProof(sentAt);
            if (proof) settled.push(lostEvent(id, proof, this.deps.recordLifetimeMs));
            return;
          }
          // Read like a large result: by fetch, several at a time.
          settled.push({ type: 'done', id, resultInStore: true });
        });
        this.accept(settled);
      }
    } catch (error) {
      this.deps.log.warn({ err: error, batch: this.batch }, 'batch tracker could not read Redis; its jobs stay pending');
    } finally {
      this.polling = false;
    }
    if (this.pollAgain) {
      this.pollAgain = false;
      if (this.pending.size > 0) void this.pollRedis();
    }
  }

  /**
   * Why a job acknowledged by Redis, and neither found nor marked delivered by a read sent at
   * `sentAt`, is surely lost, if it is:
   * - Redis lost its data: this node saw it (at `dataLostAt`) after the batch was made and
   *   before the read. A job written after the loss would be there (or marked delivered), so
   *   this one was written before it. This also holds for a batch followed from another node,
   *   whose acknowledgement this node did not see;
   * - no record of it can be alive any more: job TTL + result TTL passed since it was
   *   acknowledged.
   * Otherwise it may still be in flight in ways this node cannot see, and stays pending.
   */
  private lossProof(sentAt: number): LossProof | undefined {
    const ackedAt = this.ackedAt!;
    if (this.dataLostAt > this.createdAt && this.dataLostAt <= sentAt) return 'data-loss';
    if (sentAt - ackedAt > this.deps.recordLifetimeMs) return 'expired';
    return undefined;
  }

  /**
   * The outcome of a job that ended, from Redis (or from the node keeping a large result);
   * undefined when it is not there after all (the polls then decide whether it is lost).
   * Throws when Redis or the peer did not answer: nothing is known then.
   */
  private async readOutcome(id: string): Promise<JobEvent | undefined> {
    const { state, result, error: err, spilledOn: node } = await this.deps.store.jobs.outcome(id);
    if (state === 'done' && result) return { type: 'done', id, result };
    if (state === 'done' && node !== null) {
      try {
        return { type: 'done', id, result: await this.deps.takeSpilled(id, node) };
      } catch (error) {
        if (!(error instanceof ResultGone)) throw error;
        return { type: 'failed', id, error: { name: 'JobLost', message: `the result of job ${id} was kept on node ${node}, which no longer has it: ${error.message}` } };
      }
    }
    if (state === 'failed' && err) return { type: 'failed', id, error: decode<RemoteErrorInfo>(err) };
    if (state === 'cancelled') return { type: 'failed', id, error: { name: 'CancelledError', message: `job ${id} was cancelled` } };
    return undefined;
  }
}

/** Whether bit `index` of a Redis bitmap is set (Redis numbers bits from each byte's most significant). */
function isMarked(bitmap: Buffer | null, index: number): boolean {
  if (!bitmap || index >> 3 >= bitmap.length) return false;
  return (bitmap[index >> 3] & (0x80 >> (index & 7))) !== 0;
}

/**
 * The trackers of one node, by batch. One subscription (`ks.ev.<node>`) receives the events
 * of every job this node submitted, and one timer drives every tracker's Redis fallback.
 */
export class BatchTrackers {
  private readonly byBatch = new Map<string, BatchTracker>();
  private readonly subscriptions: BusSubscription[];
  private readonly pollTimer: NodeJS.Timeout;
  private readonly stopWatchingLoss: () => void;
  /** when this node last saw Redis lose its data (performance.now()): trackers made later learn it too */
  private lastDataLossAt?: number;

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
    this.stopWatchingLoss = deps.store.onDataLoss(() => {
      const at = performance.now();
      this.lastDataLossAt = at;
      for (const tracker of this.byBatch.values()) tracker.dataLost(at);
    });
  }

  /** A tracker for a batch this node is about to submit (or run directly), in place before any job exists. */
  open(batch: string, ids: readonly string[], options: { inRedis?: boolean } = {}): BatchTracker {
    return this.add(new BatchTracker(batch, ids, this.deps, (t) => this.forget(t), options.inRedis ?? true), false);
  }

  /**
   * The tracker for a batch, created from Redis when this node has none (submitted elsewhere,
   * or long ago). Its client had the job ids, so Redis acknowledged them before now.
   */
  follow(batch: string, ids: readonly string[]): BatchTracker {
    const known = this.byBatch.get(batch);
    if (known) return known;
    const tracker = new BatchTracker(batch, ids, this.deps, (t) => this.forget(t));
    tracker.acked();
    return this.add(tracker, true);
  }

  closeAll(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    clearInterval(this.pollTimer);
    this.stopWatchingLoss();
    for (const tracker of [...this.byBatch.values()]) tracker.retire();
  }

  private add(tracker: BatchTracker, pollNow: boolean): BatchTracker {
    // A batch followed now may predate a loss this node saw before.
    if (this.lastDataLossAt !== undefined) tracker.dataLost(this.lastDataLossAt, false);
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
