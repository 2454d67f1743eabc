import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { readClaimed, type ClaimedJob } from './claimed-jobs.js';
import { RedisConnection } from './connection.js';
import { moveLegacyKeys, type LegacyMove } from './legacy-layout.js';
import { ReplicaAcks } from './replica-acks.js';
import { KsError } from '../errors.js';
import { PackedFields } from './packed-fields.js';
import { RedisEpoch, type DataLossListener } from './epoch.js';
import { Keys } from './keys.js';
import { batchOfJob, jobIndex } from '../ids.js';
import { ScriptKeys, type StoreRedis } from './scripts.js';
import { Catalog } from './catalog.js';
import { HistoryRecords } from './history.js';
import { JobRecords } from './jobs.js';
import { NodeRecords } from './nodes.js';
import { readRoutingFacts, type NodeQueueNames, type RoutingFacts } from './routing-facts.js';

export { loadScript, type StoreRedis } from './scripts.js';
export type { LegacyMove } from './legacy-layout.js';
export { describeRedis, parseRedisUrl, redisUrlFromFlags } from './redis-target.js';
export type { ClaimedJob } from './claimed-jobs.js';

/** How many jobs one claim may take. */
export interface ClaimLimits {
  /** jobs at most */
  max: number;
  /** of which this many may be of any function (the free threads) */
  anyFunction: number;
  /** functions known to be short: their jobs may fill the rest */
  prefetchable: readonly string[];
}


export interface JobToEnqueue {
  id: string;
  fn: string;
  registered: boolean;
  args: Uint8Array;
  opts: Uint8Array | null;
  queues: string[];
  /** higher runs first within a queue (default 0; architecture §5 *Priorities*) */
  priority?: number;
  /** claimable only this many ms after the submit */
  delayMs?: number;
}

/** One submit, written with the batch protocol (lua/beginBatch.lua). */
export interface BatchToSubmit {
  batch: string;
  jobs: JobToEnqueue[];
  /** shipped functions' sources by sha256: stored by the commit, with the jobs */
  sources: Record<string, string>;
  head: string;
  /** the client's idempotency key: a resend returns the batch it first made */
  submitId?: string;
  ttlMs: number;
  localityWaitMs: number;
  /** this node claims these jobs in the commit, for its idle threads */
  claimFor?: { node: string; ids: readonly string[] };
}

export type SubmittedBatch =
  /** this call wrote the batch; `claimed`: the ids claimed for `claimFor.node` in the commit */
  | { kind: 'written'; batch: string; claimed: Set<string> }
  /** the submitId already maps to this committed batch of `count` jobs: nothing was written */
  | { kind: 'existing'; batch: string; count: number };

/** What the reaper did with a job of a lost node. */
export interface ReapedJob {
  id: string;
  outcome: 'requeued' | 'retried' | 'pinned' | 'unserved';
  head: string;
}

export interface JobOutcomeRecord {
  id: string;
  status: 'done' | 'failed';
  field: 'res' | 'err' | 'spill';
  value: Uint8Array | string;
  /** the job's own result TTL (`resultTtlMs`), else the node's */
  ttlMs?: number;
}



/**
 * How many jobs one enqueueJobs call writes at most, and about how many bytes: large enough to
 * amortise the call, small enough (a few ms) that heartbeats and claims get their turn.
 */
const ENQUEUE_CHUNK = 100;
const ENQUEUE_CHUNK_BYTES = 128 * 1024;
/** How many ids one command takes (deletes, cancels). */
const ID_SLICE = 1000;
/** A writer that has not written a chunk for this long is taken for dead (its batch is dropped). */
export const BATCH_LEASE_MS = 10_000;
/** Batch records and sources outlive the jobs by this much. */
const RECORD_MARGIN_MS = 10 * 60_000;
/** How long a resend waits for the first send of its submitId to be written. */
const AWAIT_OTHER_WRITER_MS = 60_000;

/** The jobs packed for enqueueJobs, in chunks of at most ENQUEUE_CHUNK jobs and about ENQUEUE_CHUNK_BYTES. */
function packChunks(jobs: readonly JobToEnqueue[]): Buffer[] {
  const chunks: Buffer[] = [];
  let packed = new PackedFields(64 * 1024);
  let count = 0;
  let bytes = 0;
  for (const job of jobs) {
    packed.add(job.id).add(job.fn).add(job.registered ? 'r' : 's').add(job.args).add(job.opts ?? '').add(job.queues.length === 1 ? job.queues[0] : job.queues.join(','))
      .add(job.priority || job.delayMs ? `${job.priority ?? 0}:${job.delayMs ?? 0}` : '');
    count++;
    bytes += job.args.byteLength + 128;
    if (count >= ENQUEUE_CHUNK || bytes >= ENQUEUE_CHUNK_BYTES) {
      chunks.push(packed.bytes());
      packed = new PackedFields(64 * 1024);
      count = 0;
      bytes = 0;
    }
  }
  if (count > 0) chunks.push(packed.bytes());
  return chunks;
}

function idSet(list: string | undefined): Set<string> {
  return new Set(list ? list.split(',') : []);
}
/** Delivered jobs are deleted with the next command this node sends, or at most this much later. */
const FORGET_MS = 20;

/**
 * The Redis side of the cluster, and the only code that talks to Redis: one connection, the
 * Lua scripts (one file each under `lua/`, header listing KEYS and ARGV) and typed wrappers
 * around them, and the named reads and writes of the records below (key shapes: keys.ts).
 */
export class Store {
  readonly keys: Keys;
  /** each script's KEYS (scripts.ts) */
  private readonly scriptKeys: ScriptKeys;
  /** the cluster's epoch key: how a node learns that Redis lost its data (see RedisEpoch) */
  readonly epoch: RedisEpoch;
  /** job hashes, queues and running sets outside the scripts: status, outcomes, sources */
  readonly jobs: JobRecords;
  /** the job history (written by lua/recordHistory.lua) */
  readonly history: HistoryRecords;
  /** the membership: node descriptions and heartbeats */
  readonly nodes: NodeRecords;
  /** the data catalog */
  readonly catalog: Catalog;
  private forgotten: string[] = [];
  /** claim tokens: this prefix (random per connection) and a counter */
  private readonly claimTokenPrefix = randomBytes(6).toString('hex');
  private claims = 0;
  private forgetTimer?: NodeJS.Timeout;
  /** how long a batch's delivered marks live: as long as any record of its jobs could */
  private deliveredMarkTtlMs = 0;

  private readonly redis: StoreRedis;

  /**
   * @param replicaAcks WAIT after a submit's commit (--redis-replica-acks)
   * @param beats the membership's own connection (heartbeats, join, leave): a heartbeat never
   *   waits behind a burst of bulk commands on `redis` (architecture §5, *Membership*)
   */
  private constructor(private readonly connection: RedisConnection, keys: Keys, private readonly beats: Redis | Cluster, private readonly replicaAcks?: ReplicaAcks) {
    const redis = connection.client;
    this.redis = redis;
    this.keys = keys;
    this.scriptKeys = new ScriptKeys(this.keys.base);
    this.epoch = new RedisEpoch(redis, this.keys.epoch);
    this.jobs = new JobRecords(redis, this.keys);
    this.history = new HistoryRecords(redis, this.keys, this.scriptKeys);
    this.nodes = new NodeRecords(redis, beats as unknown as Redis, this.keys, this.epoch); // a Cluster takes the same commands
    this.catalog = new Catalog({ redis, keys: this.keys, scriptKeys: this.scriptKeys, keyspace: () => connection.keyspace() });
  }

  /** false while the connection is down (a slow Redis that still answers is up) */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Calls `lost` each time the connection closes and `back` each time it is ready again. */
  watchConnection(lost: () => void, back: () => void): void {
    this.redis.on('close', lost);
    this.redis.on('ready', back);
  }

  /** Whether Redis answers a PING. */
  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }

  /** `INFO memory`'s text (works where `CONFIG` is disabled, as on managed Redis). */
  memoryInfo(): Promise<string> {
    return this.connection.keyspace().info('memory');
  }

  /** Whether the cluster's Redis is a Redis Cluster (no corked writes there: cork.ts). */
  get onRedisCluster(): boolean {
    return this.connection.isCluster;
  }

  /**
   * Moves keys of the layout before hash tags (`ks:*`, `P:ks:*`) to this cluster's base, once,
   * at node start, before anything is read (legacy-layout.ts); refuses while a node of that
   * layout still runs. Null when there was nothing to move (or on Redis Cluster, where that
   * layout never worked).
   */
  async migrateLegacyKeys(): Promise<LegacyMove | null> {
    if (this.connection.isCluster) return null;
    return moveLegacyKeys(this.connection.keyspace(), this.keys);
  }

  /** What routing one submit needs (data sizes, holders, node load, memory copies), in one pipeline. */
  routingFacts(urls: readonly string[], nodes: readonly NodeQueueNames[]): Promise<RoutingFacts> {
    return readRoutingFacts(this.redis, this.keys, urls, nodes);
  }

  /** Takes the lock `key` (SET NX PX) holding `token`; false when another holder has it. Renew or release with renewLock. */
  async takeLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /**
   * Calls `listener` each time this node sees that Redis lost its data (the epoch key, read
   * with every heartbeat, was missing or changed): every job, queue, source and record written
   * before is gone. Returns the unsubscribe.
   */
  onDataLoss(listener: DataLossListener): () => void {
    return this.epoch.onDataLoss(listener);
  }

  /**
   * Connects to the cluster's Redis: `url` is a redis://, redis+cluster:// or redis+sentinel://
   * url (redis-target.ts), with a password if it needs one; `ca` (a PEM) is trusted for rediss://.
   * `replicaAcks`: a submit is answered only once its commit is on this
   * many replicas (WAIT, at most `replicaAckTimeoutMs`; ReplicaAcks).
   */
  static async connect(url: string, options: { prefix?: string; name?: string; ca?: string; replicaAcks?: number; replicaAckTimeoutMs?: number } = {}): Promise<Store> {
    const keys = new Keys(options.prefix ?? '');
    const connection = await RedisConnection.open(url, { name: options.name, base: keys.base, ca: options.ca });
    let acks: ReplicaAcks | undefined;
    if (options.replicaAcks && options.replicaAcks > 0) {
      const waiter = (connection.client as unknown as Redis | Cluster).duplicate() as Redis | Cluster;
      const slot = connection.hashSlot;
      const keyspace = slot !== undefined ? () => RedisConnection.masterOf(waiter as Cluster, slot) : () => waiter as Redis;
      acks = new ReplicaAcks(waiter, keyspace, keys.replicaAcks, options.replicaAcks, options.replicaAckTimeoutMs ?? 5000);
      await waiter.connect();
    }
    // Heartbeats get a connection of their own: Redis runs one connection's commands in order,
    // so a heartbeat sent behind a submit's thousands of enqueue scripts would wait for all of
    // them, and a node taking in a million jobs would let its own lease lapse.
    const beats = (connection.client as unknown as Redis | Cluster).duplicate() as Redis | Cluster;
    beats.on('error', () => undefined);
    try {
      await beats.connect();
    } catch (error) {
      connection.client.disconnect();
      beats.disconnect();
      throw error;
    }
    return new Store(connection, keys, beats, acks);
  }

  /**
   * Writes a submit all-or-nothing (the batch protocol, lua/beginBatch.lua): the batch record,
   * the jobs in chunks of a few ms each, then the commit that makes them claimable and stores
   * the sources, all sent in one go. If anything fails before the commit, what was written is
   * undone (abortBatch, then the jobs and queue entries are deleted) and a KsError says why.
   * With a submitId that already maps to a batch, that batch is answered instead (waiting
   * while its first send is still being written).
   */
  async submitBatch(submit: BatchToSubmit): Promise<SubmittedBatch> {
    const submitted = await this.writeOrFindBatch(submit);
    if (this.replicaAcks) await this.awaitReplicas(submitted.batch);
    return submitted;
  }

  /** With --redis-replica-acks: throws unless the batch's commit is on enough replicas. */
  private async awaitReplicas(batch: string): Promise<void> {
    const acks = this.replicaAcks!;
    let answer;
    try {
      answer = await acks.acknowledge(this.keys.batch(batch));
    } catch (error) {
      throw new KsError('unavailable', `the submit was written, but waiting for its replication failed (${(error as Error).message}): `
        + 'a Redis failover could lose it; resend it with the same submitId (it is not run twice)');
    }
    if (!answer.committed || answer.replicas < acks.replicas) {
      throw new KsError('unavailable', `the submit was written, but ${answer.committed ? `only ${answer.replicas} of ${acks.replicas} Redis replicas acknowledged it within ${acks.timeoutMs} ms` : 'the Redis master changed before its replicas acknowledged it'}: `
        + 'a Redis failover could lose it; resend it with the same submitId (it is not run twice)');
    }
  }

  private async writeOrFindBatch(submit: BatchToSubmit): Promise<SubmittedBatch> {
    this.flushForgotten();
    const deadline = Date.now() + AWAIT_OTHER_WRITER_MS;
    for (;;) {
      const written = await this.writeBatch(submit);
      if (written.kind !== 'busy') return written;
      // Another request with this submitId is writing its batch: wait for its end.
      const settled = await this.awaitOtherWriter(written.batch, deadline);
      if (settled) return { kind: 'existing', batch: written.batch, count: settled.count };
      if (Date.now() >= deadline) {
        throw new KsError('unavailable', `submit ${submit.submitId} is still being written by an earlier request; resend it later`);
      }
      // That write failed: this request takes the submitId over.
    }
  }

  /** Writes and queues jobs of one batch (their ids' batch), without a submitId or sources. */
  async enqueue(jobs: JobToEnqueue[], opts: { ttlMs: number; localityWaitMs: number; head: string }): Promise<void> {
    if (jobs.length === 0) return;
    await this.submitBatch({ batch: batchOfJob(jobs[0].id), jobs, sources: {}, ...opts });
  }

  private async writeBatch(submit: BatchToSubmit): Promise<SubmittedBatch | { kind: 'busy'; batch: string }> {
    const { batch, jobs, head } = submit;
    const k = this.scriptKeys;
    const recordTtl = submit.ttlMs + RECORD_MARGIN_MS;
    const now = Date.now();
    // Sent in one tick, so in one write (corkPerTick); Redis runs them in order.
    const begin = this.redis.beginBatch(...k.keys('beginBatch'), batch, jobs.length, head, BATCH_LEASE_MS, submit.submitId ?? '', recordTtl);
    const chunks = packChunks(jobs);
    const writes = chunks.map((packed, i) => this.redis.enqueueJobs(
      ...k.keys('enqueueJobs'), now, submit.ttlMs, submit.localityWaitMs, packed, head, batch, i + 1, BATCH_LEASE_MS, recordTtl,
    ));
    const sources = new PackedFields();
    for (const [sha, source] of Object.entries(submit.sources)) sources.add(sha).add(source);
    const claimFor = submit.claimFor && submit.claimFor.ids.length > 0 ? submit.claimFor : undefined;
    const commit = this.redis.commitBatch(...k.keys('commitBatch'), batch, chunks.length, recordTtl, sources.bytes(), claimFor?.node ?? '', claimFor?.ids.join(',') ?? '');
    const [begun, committed, ...written] = await Promise.allSettled([begin, commit, ...writes]);

    if (begun.status === 'fulfilled' && begun.value[0] === 'exists') {
      // Nothing of this request was written: its chunks and commit found no record of it.
      const [, other, state, count] = begun.value;
      return state === 'committed' ? { kind: 'existing', batch: other, count: Number(count) } : { kind: 'busy', batch: other };
    }
    if (begun.status === 'fulfilled' && committed.status === 'fulfilled' && committed.value[0] === 'committed'
      && written.every((w) => w.status === 'fulfilled' && w.value === 1)) {
      return { kind: 'written', batch, claimed: idSet(committed.value[1]) };
    }
    const failure = [begun, committed, ...written].find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error | undefined;
    const reason = failure
      ? `Redis refused or lost the write: ${failure.message}`
      : committed.status === 'fulfilled' && committed.value[0] === 'expired'
        ? `writing it took longer than the ${BATCH_LEASE_MS} ms lease`
        : 'its batch record vanished while it was written (did Redis restart without its data?)';
    return this.abortBatch(submit, reason);
  }

  /**
   * Undoes a batch that did not commit, unless it did after all (the commit's reply was lost).
   * Leftovers the cleanup cannot reach are unreachable (claims drop them) and expire.
   */
  private async abortBatch(submit: BatchToSubmit, reason: string): Promise<SubmittedBatch> {
    const { batch } = submit;
    let answer: string[];
    try {
      answer = await this.redis.abortBatch(...this.scriptKeys.keys('abortBatch'), batch, submit.submitId ?? '');
    } catch (error) {
      this.abortLater(submit);
      throw new KsError('unavailable', `submit failed (${reason}) and Redis could not be reached to undo it (${(error as Error).message}); `
        + `its jobs cannot start, but if its commit reached Redis they will run: resend with the same submitId to learn its outcome`);
    }
    if (answer[0] === 'committed') return { kind: 'written', batch, claimed: idSet(answer[1]) };
    await this.deleteJobs(submit.jobs).catch(() => this.abortLater(submit));
    throw new KsError('unavailable', `submit failed, nothing of it was kept (${reason}); submit again`);
  }

  /** The jobs' records and queue entries, deleted (they were never claimable). */
  private async deleteJobs(jobs: readonly JobToEnqueue[]): Promise<void> {
    const byQueue = new Map<string, string[]>();
    for (const job of jobs) for (const q of job.queues) {
      let ids = byQueue.get(q);
      if (!ids) byQueue.set(q, ids = []);
      ids.push(job.id);
    }
    const deletes: Promise<unknown>[] = [];
    for (let i = 0; i < jobs.length; i += ID_SLICE) deletes.push(this.redis.unlink(...jobs.slice(i, i + ID_SLICE).map((job) => this.keys.job(job.id))));
    for (const [q, ids] of byQueue) {
      for (let i = 0; i < ids.length; i += ID_SLICE) deletes.push(this.redis.zrem(this.keys.queue(q), ...ids.slice(i, i + ID_SLICE)));
    }
    await Promise.all(deletes);
  }

  /** Tries the abort again in the background while Redis is unreachable (once a second, for a minute). */
  private abortLater(submit: BatchToSubmit, tries = 60): void {
    if (tries <= 0) return;
    setTimeout(() => {
      this.redis.abortBatch(...this.scriptKeys.keys('abortBatch'), submit.batch, submit.submitId ?? '')
        .then((answer) => answer[0] === 'aborted' ? this.deleteJobs(submit.jobs) : undefined)
        .catch(() => this.abortLater(submit, tries - 1));
    }, 1000).unref();
  }

  /** Waits until batch `batch` (written by another request) commits (its size) or fails (null). */
  private async awaitOtherWriter(batch: string, deadline: number): Promise<{ count: number } | null> {
    const key = this.keys.batch(batch);
    while (Date.now() < deadline) {
      const [st, n, lease] = await this.redis.hmget(key, 'st', 'n', 'lease');
      if (st === 'committed') return { count: Number(n) };
      if (st !== 'writing' || !lease) return null;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return null;
  }

  /**
   * Claims up to `max` jobs, of which only `anyFunction` may be of a function not in
   * `prefetchable`. `nextAt` is when a not-yet-claimable copy becomes claimable; `held` says
   * claiming stopped at a job it could not take (work is waiting for a free thread).
   */
  async claim(node: string, queues: string[], limits: ClaimLimits): Promise<{ jobs: ClaimedJob[]; nextAt: number; held: boolean }> {
    this.flushForgotten();
    const [nextAt, packed, held] = await this.redis.claimJobsBuffer(
      ...this.scriptKeys.keys('claimJobs'), queues.join(','), node, limits.max, Date.now(),
      limits.anyFunction, limits.prefetchable.join(','), `${this.claimTokenPrefix}${(this.claims++).toString(36)}`,
    );
    return { jobs: readClaimed(packed as Buffer, queues), nextAt: Number(nextAt), held: Number(held) === 1 };
  }

  /** Writes outcomes; returns the ids that were not written (cancelled or re-queued meanwhile). */
  async finish(node: string, outcomes: JobOutcomeRecord[], resultTtlMs: number): Promise<Set<string>> {
    this.flushForgotten();
    const packed = new PackedFields(outcomes.length * 64);
    for (const o of outcomes) packed.add(o.id).add(o.status).add(o.field).add(o.value).add(o.ttlMs === undefined ? '' : String(o.ttlMs));
    const ignored = await this.redis.finishJobs(...this.scriptKeys.keys('finishJobs'), node, Date.now(), resultTtlMs, packed.bytes());
    return new Set(ignored);
  }

  /**
   * Queues a failed job again after its retry delay (lua/retryJob.lua) unless its `retries`
   * are used up. Returns the retry number, 0 when used up, -1 when the job no longer runs here.
   */
  async retry(node: string, id: string, policy: { retries: number; delayMs: number; backoff: number; jitter: number }): Promise<number> {
    this.flushForgotten();
    return Number(await this.redis.retryJob(...this.scriptKeys.keys('retryJob'), node, id, Date.now(), policy.retries, policy.delayMs, policy.backoff, policy.jitter));
  }

  /** Cancels jobs; returns each id's state before the cancel, and its head node. */
  async cancel(ids: string[], ttlMs: number): Promise<Map<string, { state: string; head: string }>> {
    this.flushForgotten();
    const before = new Map<string, { state: string; head: string }>();
    for (let start = 0; start < ids.length; start += ID_SLICE) {
      const flat = await this.redis.cancelJobs(...this.scriptKeys.keys('cancelJobs'), Date.now(), ttlMs, ...ids.slice(start, start + ID_SLICE));
      for (let i = 0; i < flat.length; i += 3) before.set(flat[i], { state: flat[i + 1], head: flat[i + 2] });
    }
    return before;
  }

  /**
   * Re-queues or fails the jobs a node that is gone was running; `served`: the queues live
   * nodes serve (a job is re-queued only into those). Returns what happened to each job.
   */
  async reapNode(node: string, opts: {
    maxRetries: number;
    served: readonly string[];
    retriedError: Uint8Array;
    pinnedError: Uint8Array;
    unservedError: Uint8Array;
    ttlMs: number;
  }): Promise<ReapedJob[]> {
    const flat = await this.redis.reapNode(
      ...this.scriptKeys.keys('reapNode'), node, opts.maxRetries, Date.now(), opts.retriedError, opts.ttlMs, opts.pinnedError, opts.served.join(','), opts.unservedError,
    );
    const reaped: ReapedJob[] = [];
    for (let i = 0; i < flat.length; i += 3) reaped.push({ id: flat[i], outcome: flat[i + 1] as ReapedJob['outcome'], head: flat[i + 2] });
    return reaped;
  }

  /**
   * A draining node gives back claimed jobs it has not started: queued again for other nodes
   * (jobs pinned to it are kept). Returns the ids handed back.
   */
  async handBack(node: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.redis.handBackJobs(...this.scriptKeys.keys('handBackJobs'), node, ...ids);
  }

  /** Every queue jobs were pushed to and that may still hold some. */
  async queueNames(): Promise<string[]> {
    return this.redis.smembers(this.keys.queueNames);
  }

  /**
   * Empties `queue`, which no live node serves: fails its jobs that no queue in `served` can
   * run any more (and drops their copies in other unserved queues). Returns the failed jobs.
   */
  async failUnserved(queue: string, served: readonly string[], opts: { error: Uint8Array; ttlMs: number }): Promise<{ id: string; head: string }[]> {
    const failed: { id: string; head: string }[] = [];
    const servedList = served.join(',');
    for (;;) {
      const ids = await this.redis.zrange(this.keys.queue(queue), 0, ID_SLICE - 1);
      const flat = await this.redis.failQueuedJobs(...this.scriptKeys.keys('failQueuedJobs'), Date.now(), opts.ttlMs, opts.error, servedList, queue, ...ids);
      for (let i = 0; i < flat.length; i += 2) failed.push({ id: flat[i], head: flat[i + 1] });
      if (ids.length < ID_SLICE) return failed;
    }
  }

  /**
   * Deletes the records of delivered jobs: with the next command this node sends (in the same
   * write: one syscall to Redis costs about as much as a small job), or within FORGET_MS.
   * Each is first marked delivered in its batch's bitmap (`delivered:<batch>`, kept
   * `markTtlMs`), so a later request for it learns that its outcome went out, instead of
   * waiting for a record that will never come back.
   */
  forget(ids: readonly string[], markTtlMs: number): void {
    this.deliveredMarkTtlMs = Math.max(this.deliveredMarkTtlMs, markTtlMs);
    for (const id of ids) this.forgotten.push(id);
    if (!this.forgetTimer && this.forgotten.length > 0) {
      this.forgetTimer = setTimeout(() => this.flushForgotten(), FORGET_MS);
      this.forgetTimer.unref();
    }
  }

  /** Sends the pending deletes now (before a read that must not see those jobs). */
  flushForgotten(): void {
    if (this.forgotten.length === 0) return;
    clearTimeout(this.forgetTimer);
    this.forgetTimer = undefined;
    const ids = this.forgotten;
    this.forgotten = [];
    // The marks go first: on this one connection, whoever finds a record gone finds its mark.
    const byBatch = new Map<string, number[]>();
    for (const id of ids) {
      const batch = batchOfJob(id);
      let offsets = byBatch.get(batch);
      if (!offsets) byBatch.set(batch, (offsets = []));
      offsets.push(jobIndex(id));
    }
    for (const [batch, offsets] of byBatch) {
      const key = this.keys.delivered(batch);
      for (let i = 0; i < offsets.length; i += ID_SLICE) {
        const sets = offsets.slice(i, i + ID_SLICE).flatMap((offset) => ['SET', 'u1', offset, 1]);
        this.redis.call('BITFIELD', key, ...sets).catch(() => undefined);
      }
      this.redis.pexpire(key, this.deliveredMarkTtlMs).catch(() => undefined);
    }
    for (let i = 0; i < ids.length; i += ID_SLICE) {
      this.redis.unlink(...ids.slice(i, i + ID_SLICE).map((id) => this.keys.job(id))).catch(() => undefined);
    }
  }

  /**
   * Renews the lock `key` for `ttlMs`, or with 0 releases it, only while it holds `token`:
   * false when it lapsed (it may be another holder's now, and is left alone).
   */
  async renewLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.renewOrReleaseLock(...this.scriptKeys.keys('renewOrReleaseLock', key), token, ttlMs)) === 1;
  }

  async close(): Promise<void> {
    this.flushForgotten();
    await this.replicaAcks?.close();
    await Promise.all([this.redis, this.beats].map(async (connection) => {
      try {
        await connection.quit();
      } catch {
        connection.disconnect();
      }
    }));
  }

  /** Drops the connections at once, without waiting for replies (a node stopping without Redis). */
  disconnect(): void {
    this.redis.disconnect();
    this.beats.disconnect();
    void this.replicaAcks?.close();
  }
}
