import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Keys } from './keys.js';

const LUA_DIR = new URL('../../../src/store/lua/', import.meta.url);
const SCRIPTS = ['enqueueJobs', 'claimJobs', 'finishJobs', 'cancelJobs'] as const;

type Arg = string | number | Buffer | Uint8Array;

interface ScriptCommands {
  enqueueJobs(...args: Arg[]): Promise<number>;
  claimJobsBuffer(...args: Arg[]): Promise<(Buffer | number)[]>;
  finishJobs(...args: Arg[]): Promise<string[]>;
  cancelJobs(...args: Arg[]): Promise<string[]>;
}

export type StoreRedis = Redis & ScriptCommands;

export interface ClaimedJob {
  id: string;
  fn: string;
  kind: 'shipped' | 'registered';
  args: Buffer;
  opts: Buffer | null;
  attempts: number;
  queue: string;
}

export interface JobToEnqueue {
  id: string;
  fn: string;
  registered: boolean;
  args: Uint8Array;
  opts: Uint8Array | null;
  queues: string[];
}

export interface JobOutcomeRecord {
  id: string;
  status: 'done' | 'failed';
  field: 'res' | 'err' | 'spill';
  value: Uint8Array | string;
}

/** How many jobs one Lua call writes: large enough to amortise the call, small enough not to stall Redis. */
const ENQUEUE_CHUNK = 500;

/**
 * The Redis side of the cluster: one connection, the Lua scripts (one file each under
 * `lua/`, header listing KEYS and ARGV) and typed wrappers around them.
 */
export class Store {
  readonly keys: Keys;

  private constructor(readonly redis: StoreRedis, prefix: string) {
    this.keys = new Keys(prefix);
  }

  static async connect(url: string, options: { prefix?: string; name?: string } = {}): Promise<Store> {
    const redis = new Redis(url, {
      connectionName: options.name,
      lazyConnect: true,
      maxRetriesPerRequest: 20,
      enableAutoPipelining: true,
    }) as StoreRedis;
    redis.on('error', () => undefined); // ioredis reconnects by itself; failed commands reject where they were issued
    for (const name of SCRIPTS) {
      redis.defineCommand(name, { lua: readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8') });
    }
    await redis.connect();
    return new Store(redis, options.prefix ?? '');
  }

  async enqueue(jobs: JobToEnqueue[], opts: { ttlMs: number; localityWaitMs: number }): Promise<void> {
    const now = Date.now();
    const calls: Promise<number>[] = [];
    for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
      const args: Arg[] = [0, this.keys.base, now, opts.ttlMs, opts.localityWaitMs];
      for (const job of jobs.slice(start, start + ENQUEUE_CHUNK)) {
        args.push(job.id, job.fn, job.registered ? 'r' : 's', job.args, job.opts ?? '', job.queues.join(','));
      }
      calls.push(this.redis.enqueueJobs(...args));
    }
    await Promise.all(calls);
  }

  /** Claims up to `max` jobs; `nextAt` is when a not-yet-claimable copy becomes claimable. */
  async claim(node: string, queues: string[], max: number): Promise<{ jobs: ClaimedJob[]; nextAt: number }> {
    const raw = await this.redis.claimJobsBuffer(
      queues.length, ...queues.map((q) => this.keys.queue(q)), this.keys.base, node, max, Date.now(),
    );
    const jobs: ClaimedJob[] = [];
    for (let i = 1; i < raw.length; i += 7) {
      const opts = raw[i + 4] as Buffer;
      jobs.push({
        id: raw[i].toString(),
        fn: raw[i + 1].toString(),
        kind: raw[i + 2].toString() === 'r' ? 'registered' : 'shipped',
        args: raw[i + 3] as Buffer,
        opts: opts.length ? opts : null,
        attempts: Number(raw[i + 5].toString()),
        queue: queues[Number(raw[i + 6]) - 1],
      });
    }
    return { jobs, nextAt: Number(raw[0]) };
  }

  /** Writes outcomes; returns the ids that were not written (cancelled or re-queued meanwhile). */
  async finish(node: string, outcomes: JobOutcomeRecord[], resultTtlMs: number): Promise<Set<string>> {
    const args: Arg[] = [0, this.keys.base, node, Date.now(), resultTtlMs];
    for (const o of outcomes) args.push(o.id, o.status, o.field, o.value);
    const ignored = await this.redis.finishJobs(...args);
    return new Set(ignored);
  }

  /** Cancels jobs; returns each id's state before the cancel. */
  async cancel(ids: string[], ttlMs: number): Promise<Map<string, string>> {
    const before = new Map<string, string>();
    for (let start = 0; start < ids.length; start += ENQUEUE_CHUNK) {
      const flat = await this.redis.cancelJobs(0, this.keys.base, Date.now(), ttlMs, ...ids.slice(start, start + ENQUEUE_CHUNK));
      for (let i = 0; i < flat.length; i += 2) before.set(flat[i], flat[i + 1]);
    }
    return before;
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
