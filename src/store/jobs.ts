import type { Redis } from 'ioredis';
import { batchOfJob, batchTime } from '../ids.js';
import type { Keys } from './keys.js';

/** A job's record as `ks status` and the job routes show it (the hash `job:<id>`, architecture §4). */
export interface JobRecord {
  status: string;
  /** the node running it (or that ran it) */
  node: string | null;
  queues: string[];
  /** lost-node re-queues */
  attempts: number;
  /** retries after a failure (the job's `retries` policy) */
  retries: number;
  /** runs so far, counting one under way or finished: re-queues + retries + 1 once claimed */
  attempt: number;
  priority: number;
  created: number | null;
  started: number | null;
  finished: number | null;
}

/** What a job that ended left in Redis: its state and exactly one of result, error or spilling node. */
export interface StoredOutcome {
  state: string | undefined;
  result: Buffer | null;
  error: Buffer | null;
  /** the node that keeps a large result */
  spilledOn: string | null;
}

/** One poll of a batch's jobs: each job's state (null: no record), and the batch's delivered bitmap. */
export interface BatchPoll {
  /** per id, in order: the state, null when the record is gone, undefined when its read failed */
  states: (string | null | undefined)[];
  /** the `delivered:<batch>` bitmap; undefined when its read failed */
  delivered: Buffer | null | undefined;
}

/**
 * Reads and small writes of the job hashes, queues and running sets outside the Lua scripts:
 * the only TypeScript that knows the job hash's fields (`st`, `res`, `err`, `spill`, `node`,
 * `queues`, `attempts`, `rtry`, `pri`, `created`, `started`, `finished`).
 */
export class JobRecords {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** The job's record, or undefined when there is none (never submitted, delivered, or expired). */
  async record(id: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.job(id));
    if (!h.st) return undefined;
    return {
      status: h.st,
      node: h.node ?? null,
      queues: h.queues ? h.queues.split(',') : [],
      attempts: Number(h.attempts ?? 0),
      retries: Number(h.rtry ?? 0),
      attempt: Number(h.attempts ?? 0) + Number(h.rtry ?? 0) + (h.st === 'queued' ? 0 : 1),
      priority: Number(h.pri ?? 0),
      // not stored per job: the batch id says when it was made (ids.ts)
      created: num(h.created) ?? batchCreated(id),
      started: num(h.started),
      finished: num(h.finished),
    };
  }

  /** The outcome fields of a job, in one HMGET. */
  async outcome(id: string): Promise<StoredOutcome> {
    const [st, res, err, spill] = await this.redis.hmgetBuffer(this.keys.job(id), 'st', 'res', 'err', 'spill');
    return { state: st?.toString(), result: res, error: err, spilledOn: spill ? spill.toString() : null };
  }

  /** Each job's state and the batch's delivered bitmap, in one pipeline. */
  async poll(batch: string, ids: readonly string[]): Promise<BatchPoll> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.job(id), 'st');
    pipeline.getBuffer(this.keys.delivered(batch));
    const rows = (await pipeline.exec()) ?? [];
    const [markError, marks] = rows.pop() ?? [null, null];
    return {
      states: ids.map((_id, i) => {
        const entry = rows[i];
        return !entry || entry[0] ? undefined : (entry[1] as (string | null)[])[0];
      }),
      delivered: markError ? undefined : (marks as Buffer | null),
    };
  }

  /** Whether each job has a record, in one pipeline; throws the first failed read. */
  async exist(ids: readonly string[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.exists(this.keys.job(id));
    const rows = (await pipeline.exec()) ?? [];
    return ids.map((_id, i) => {
      const [error, count] = rows[i] ?? [null, 0];
      if (error) throw error;
      return count !== 0;
    });
  }

  /** Each job's queue list as written at submit (`a,b`), null when unknown or unreadable. */
  queueLists(ids: readonly string[]): Promise<(string | null)[]> {
    return Promise.all(ids.map((id) => this.redis.hget(this.keys.job(id), 'queues').catch(() => null)));
  }

  /** Jobs waiting in each queue, one ZCARD each (sent in one write). */
  queueLengths(names: readonly string[]): Promise<number[]> {
    return Promise.all(names.map((name) => this.redis.zcard(this.keys.queue(name))));
  }

  /** The ids queued in `queues` and running on `nodes`, without duplicates. */
  async queuedOrRunning(queues: readonly string[], nodes: readonly string[]): Promise<string[]> {
    const lists = await Promise.all([
      ...queues.map((name) => this.redis.zrange(this.keys.queue(name), 0, -1)),
      ...nodes.map((node) => this.redis.smembers(this.keys.running(node))),
    ]);
    return [...new Set(lists.flat())];
  }

  /** Shipped functions' sources by sha256 (null: not stored), one MGET. */
  sources(shas: readonly string[]): Promise<(string | null)[]> {
    return this.redis.mget(...shas.map((sha) => this.keys.fn(sha)));
  }

  /** Takes a job out of the node's running set (a job cancelled while it ran); never throws. */
  leaveRunning(node: string, id: string): void {
    this.redis.srem(this.keys.running(node), id).catch(() => undefined);
  }
}

function num(value: string | undefined): number | null {
  return value === undefined ? null : Number(value);
}

/** When the job's batch was made (ms), from its id; null for an id not made by newBatchId. */
function batchCreated(id: string): number | null {
  const at = batchTime(batchOfJob(id));
  return Number.isNaN(at) ? null : at;
}
