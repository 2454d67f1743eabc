import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { PackedFields } from './packed-fields.js';
import { Keys } from './keys.js';

const LUA_DIR = new URL('../../../src/store/lua/', import.meta.url);
const SCRIPTS = [
  'enqueueJobs', 'claimJobs', 'finishJobs', 'cancelJobs', 'reapNode', 'failQueuedJobs',
  'claimData', 'renewDataClaim', 'commitData', 'releaseDataClaim', 'addDataHolder', 'dropDataHolder',
  'renewOrReleaseLock', 'handBackJobs',
] as const;

type Arg = string | number | Buffer | Uint8Array;

interface ScriptCommands {
  enqueueJobs(...args: Arg[]): Promise<string[]>;
  claimJobsBuffer(...args: Arg[]): Promise<[number, Buffer, number]>;
  finishJobs(...args: Arg[]): Promise<string[]>;
  cancelJobs(...args: Arg[]): Promise<string[]>;
  reapNode(...args: Arg[]): Promise<string[]>;
  failQueuedJobs(...args: Arg[]): Promise<string[]>;
  claimData(...args: Arg[]): Promise<string[]>;
  renewDataClaim(...args: Arg[]): Promise<number>;
  commitData(...args: Arg[]): Promise<number>;
  releaseDataClaim(...args: Arg[]): Promise<number>;
  addDataHolder(...args: Arg[]): Promise<number>;
  dropDataHolder(...args: Arg[]): Promise<number>;
  renewOrReleaseLock(...args: Arg[]): Promise<number>;
  handBackJobs(...args: Arg[]): Promise<string[]>;
}

export type StoreRedis = Redis & ScriptCommands;

/** How many jobs one claim may take. */
export interface ClaimLimits {
  /** jobs at most */
  max: number;
  /** of which this many may be of any function (the free threads) */
  anyFunction: number;
  /** functions known to be short: their jobs may fill the rest */
  prefetchable: readonly string[];
}

export interface ClaimedJob {
  id: string;
  fn: string;
  kind: 'shipped' | 'registered';
  args: Uint8Array;
  opts: Uint8Array | null;
  attempts: number;
  queue: string;
  /** the node whose client waits for the outcome */
  head: string;
}

export interface JobToEnqueue {
  id: string;
  fn: string;
  registered: boolean;
  args: Uint8Array;
  opts: Uint8Array | null;
  queues: string[];
}

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
}

/**
 * Commands sent in one tick leave in one write: the socket is corked at the first command of
 * a tick and uncorked on the next tick. A write to Redis costs about as much as a small job
 * on this machine's main thread (the loopback syscall), so this matters.
 */
function corkPerTick(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  let corked: Socket | undefined;
  const uncork = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    const socket = redis.stream as Socket | undefined;
    if (!corked && !args[1] && redis.status === 'ready' && socket?.writable) {
      corked = socket;
      socket.cork();
      process.nextTick(uncork);
    }
    return send(...args);
  }) as Redis['sendCommand'];
}

/**
 * Reads claimJobs.lua's packed fields, eight per job. Fields that repeat from one job to the
 * next (function, options, head node) are decoded once per run: a claim of hundreds of calls
 * of one function makes a few strings, not hundreds. Arguments and options stay views of the
 * reply.
 */
function readClaimed(packed: Buffer, queues: readonly string[]): ClaimedJob[] {
  const jobs: ClaimedJob[] = [];
  let pos = 0;
  let start = 0;
  let end = 0;
  const next = () => {
    const length = packed.readUInt32BE(pos);
    start = pos + 4;
    end = start + length;
    pos = end;
  };
  let fnAt = [0, 0];
  let headAt = [0, 0];
  let optsAt = [0, 0];
  let fn = '';
  let head = '';
  let opts: Buffer | null = null;
  const same = (at: number[]) => end - start === at[1] - at[0] && packed.compare(packed, at[0], at[1], start, end) === 0;
  while (pos < packed.length) {
    next();
    const id = packed.toString('latin1', start, end);
    next();
    if (!same(fnAt)) {
      fn = packed.toString('utf8', start, end);
      fnAt = [start, end];
    }
    next();
    const kind = end - start === 1 && packed[start] === 0x72 ? 'registered' : 'shipped';
    next();
    const args = packed.subarray(start, end);
    next();
    if (!same(optsAt)) {
      opts = end > start ? packed.subarray(start, end) : null;
      optsAt = [start, end];
    }
    next();
    const attempts = Number(packed.toString('latin1', start, end));
    next();
    const queue = queues[Number(packed.toString('latin1', start, end)) - 1];
    next();
    if (!same(headAt)) {
      head = packed.toString('utf8', start, end);
      headAt = [start, end];
    }
    jobs.push({ id, fn, kind, args, opts, attempts, queue, head });
  }
  return jobs;
}

/** Reads `lua/<name>.lua`, replacing each `-- @include <part>` line with `lua/includes/<part>.lua`. */
export function loadScript(name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
  return source.replace(/^-- @include (\w+)$/gm, (_line, part: string) => readFileSync(new URL(`includes/${part}.lua`, LUA_DIR), 'utf8'));
}

/** How many jobs one Lua call writes: large enough to amortise the call, small enough not to stall Redis. */
const ENQUEUE_CHUNK = 1000;
/** Delivered jobs are deleted with the next command this node sends, or at most this much later. */
const FORGET_MS = 20;

/**
 * The Redis side of the cluster: one connection, the Lua scripts (one file each under
 * `lua/`, header listing KEYS and ARGV) and typed wrappers around them.
 */
export class Store {
  readonly keys: Keys;
  private forgotten: string[] = [];
  private forgetTimer?: NodeJS.Timeout;

  private constructor(readonly redis: StoreRedis, prefix: string) {
    this.keys = new Keys(prefix);
  }

  static async connect(url: string, options: { prefix?: string; name?: string } = {}): Promise<Store> {
    const redis = new Redis(url, {
      connectionName: options.name,
      lazyConnect: true,
      maxRetriesPerRequest: 20,
      // Not ioredis's auto-pipelining (a Pipeline object and its promises per tick, ~10 KiB
      // per queued call): corkPerTick gives the same single write per tick.
      enableAutoPipelining: false,
    }) as StoreRedis;
    corkPerTick(redis);
    redis.on('error', () => undefined); // ioredis reconnects by itself; failed commands reject where they were issued
    for (const name of SCRIPTS) {
      redis.defineCommand(name, { lua: loadScript(name) });
    }
    await redis.connect();
    return new Store(redis, options.prefix ?? '');
  }

  /**
   * Writes jobs and queues them. With `claimFor`, that node claims the jobs in `ids` at once
   * (they are written as running on it, and never queued): it may start them before this
   * write completes. Resolves once every job is written.
   */
  async enqueue(jobs: JobToEnqueue[], opts: {
    ttlMs: number;
    localityWaitMs: number;
    head: string;
    claimFor?: { node: string; ids: ReadonlySet<string> };
  }): Promise<void> {
    this.flushForgotten();
    const now = Date.now();
    const calls: Promise<string[]>[] = [];
    const claimFor = opts.claimFor && opts.claimFor.ids.size > 0 ? opts.claimFor : undefined;
    for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
      const chunk = jobs.slice(start, start + ENQUEUE_CHUNK);
      const packed = new PackedFields(chunk.length * 160);
      for (const job of chunk) {
        packed.add(job.id).add(job.fn).add(job.registered ? 'r' : 's').add(job.args).add(job.opts ?? '').add(job.queues.length === 1 ? job.queues[0] : job.queues.join(','));
      }
      const mine = claimFor ? chunk.filter((job) => claimFor.ids.has(job.id)).map((job) => job.id) : [];
      const claim = mine.length > 0 ? [claimFor!.node, mine.join(',')] : [];
      calls.push(this.redis.enqueueJobs(0, this.keys.base, now, opts.ttlMs, opts.localityWaitMs, packed.bytes(), opts.head, ...claim));
    }
    const claimed = (await Promise.all(calls)).flat();
    if (claimFor && claimed.length !== claimFor.ids.size) {
      throw new Error(`enqueue claimed ${claimed.length} of the ${claimFor.ids.size} jobs asked for`);
    }
  }

  /**
   * Claims up to `max` jobs, of which only `anyFunction` may be of a function not in
   * `prefetchable`. `nextAt` is when a not-yet-claimable copy becomes claimable; `held` says
   * claiming stopped at a job it could not take (work is waiting for a free thread).
   */
  async claim(node: string, queues: string[], limits: ClaimLimits): Promise<{ jobs: ClaimedJob[]; nextAt: number; held: boolean }> {
    this.flushForgotten();
    const [nextAt, packed, held] = await this.redis.claimJobsBuffer(
      queues.length, ...queues.map((q) => this.keys.queue(q)), this.keys.base, node, limits.max, Date.now(),
      limits.anyFunction, limits.prefetchable.join(','),
    );
    return { jobs: readClaimed(packed as Buffer, queues), nextAt: Number(nextAt), held: Number(held) === 1 };
  }

  /** Writes outcomes; returns the ids that were not written (cancelled or re-queued meanwhile). */
  async finish(node: string, outcomes: JobOutcomeRecord[], resultTtlMs: number): Promise<Set<string>> {
    this.flushForgotten();
    const packed = new PackedFields(outcomes.length * 64);
    for (const o of outcomes) packed.add(o.id).add(o.status).add(o.field).add(o.value);
    const ignored = await this.redis.finishJobs(0, this.keys.base, node, Date.now(), resultTtlMs, packed.bytes());
    return new Set(ignored);
  }

  /** Cancels jobs; returns each id's state before the cancel, and its head node. */
  async cancel(ids: string[], ttlMs: number): Promise<Map<string, { state: string; head: string }>> {
    this.flushForgotten();
    const before = new Map<string, { state: string; head: string }>();
    for (let start = 0; start < ids.length; start += ENQUEUE_CHUNK) {
      const flat = await this.redis.cancelJobs(0, this.keys.base, Date.now(), ttlMs, ...ids.slice(start, start + ENQUEUE_CHUNK));
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
      0, this.keys.base, node, opts.maxRetries, Date.now(), opts.retriedError, opts.ttlMs, opts.pinnedError, opts.served.join(','), opts.unservedError,
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
    return this.redis.handBackJobs(0, this.keys.base, node, ...ids);
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
      const ids = await this.redis.zrange(this.keys.queue(queue), 0, ENQUEUE_CHUNK - 1);
      const flat = await this.redis.failQueuedJobs(0, this.keys.base, Date.now(), opts.ttlMs, opts.error, servedList, queue, ...ids);
      for (let i = 0; i < flat.length; i += 2) failed.push({ id: flat[i], head: flat[i + 1] });
      if (ids.length < ENQUEUE_CHUNK) return failed;
    }
  }

  /**
   * Deletes the records of delivered jobs: with the next command this node sends (in the same
   * write: one syscall to Redis costs about as much as a small job), or within FORGET_MS.
   */
  forget(ids: readonly string[]): void {
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
    for (let i = 0; i < ids.length; i += ENQUEUE_CHUNK) {
      this.redis.unlink(...ids.slice(i, i + ENQUEUE_CHUNK).map((id) => this.keys.job(id))).catch(() => undefined);
    }
  }

  /**
   * Renews the lock `key` for `ttlMs`, or with 0 releases it, only while it holds `token`:
   * false when it lapsed (it may be another holder's now, and is left alone).
   */
  async renewLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.renewOrReleaseLock(1, key, token, ttlMs)) === 1;
  }

  async close(): Promise<void> {
    this.flushForgotten();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
