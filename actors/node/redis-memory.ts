import formatBytes from 'bytes';
import { KsError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { describeRedis, type Store } from '../../src/store/store.js';

/** What `INFO memory` says about the memory Redis may use. */
export interface RedisMemory {
  /** bytes in use (`used_memory`) */
  used: number;
  /** `maxmemory`; 0: no limit */
  max: number;
  /** `maxmemory_policy` */
  policy: string;
}

export function parseMemoryInfo(info: string): RedisMemory {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    used: Number(field('used_memory') ?? 0),
    max: Number(field('maxmemory') ?? 0),
    policy: field('maxmemory_policy') ?? 'noeviction',
  };
}

/** One `INFO memory`: works where `CONFIG` is disabled (managed Redis). */
export async function readMemory(store: Store): Promise<RedisMemory> {
  return parseMemoryInfo(await store.memoryInfo());
}

/**
 * Refuses a Redis that may evict keys: jobs, queues and the catalog are the cluster's only
 * record, and an evicted key is lost work. Returns a warning for a Redis with no memory limit
 * (it can grow until the machine runs out; the memory guard is then off).
 */
export function checkRedisMemory(memory: RedisMemory, where: string): string | undefined {
  if (memory.policy !== 'noeviction') {
    throw new Error(`Redis at ${where} has maxmemory-policy ${memory.policy}: it may evict jobs; kitchensink needs noeviction (CONFIG SET maxmemory-policy noeviction)`);
  }
  if (memory.max === 0) {
    return `Redis at ${where} has no maxmemory: it can grow until the machine runs out of memory; the Redis memory guard (--redis-memory-limit) is off`;
  }
  return undefined;
}

/** The host:port of a Redis url, never its credentials. */
/** Where the cluster's Redis is, for messages: `host:port`, or the Cluster's or Sentinels' addresses (never credentials). */
export function redisAddress(url: string): string {
  return describeRedis(url);
}

export function bytesText(n: number): string {
  return formatBytes(n, { unitSeparator: ' ' }) ?? `${n} B`;
}

/**
 * The Redis memory guard: reads `used_memory` once per interval (one INFO, off every request's
 * path) and, while it is over `limitPercent` of `maxmemory`, makes `check()` refuse new work
 * (submits, data saves) with a 503 so Redis never reaches its limit in the middle of a write.
 * Reads, results and status go on: delivering results is what frees the memory.
 */
export class RedisMemoryGuard {
  private full = false;
  private memory?: RedisMemory;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly options: { limitPercent: number; intervalMs: number; where: string; log: Logger },
  ) {}

  get over(): boolean {
    return this.full;
  }

  /** Measures now, then every interval. `memory` is what the start-up check read. */
  start(memory: RedisMemory): void {
    if (memory.max === 0) return;
    this.update(memory);
    this.timer = setInterval(() => void this.measure(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async measure(): Promise<void> {
    if (!this.store.connected) return;
    try {
      this.update(await readMemory(this.store));
    } catch {
      // Redis unreachable: the connection watch says so; keep the last verdict.
    }
  }

  /** Throws the 503 while Redis is over the limit. */
  check(what: string): void {
    if (!this.full) return;
    const { used, max } = this.memory!;
    throw new KsError('unavailable', `${what} refused: Redis is nearly full (${bytesText(used)} used of its maxmemory ${bytesText(max)}, over the ${this.options.limitPercent}% set by --redis-memory-limit); collect or cancel results to free it, or raise Redis's maxmemory`);
  }

  private update(memory: RedisMemory): void {
    this.memory = memory;
    if (memory.max === 0) {
      this.full = false;
      return;
    }
    const over = memory.used * 100 > memory.max * this.options.limitPercent;
    if (over !== this.full) {
      const text = `${bytesText(memory.used)} of ${bytesText(memory.max)}`;
      if (over) this.options.log.warn(`Redis at ${this.options.where} is over ${this.options.limitPercent}% of its maxmemory (${text}): refusing submits and data saves`);
      else this.options.log.warn(`Redis at ${this.options.where} is back under ${this.options.limitPercent}% of its maxmemory (${text}): accepting submits and data saves`);
    }
    this.full = over;
  }
}
