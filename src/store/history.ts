import type { HistoryLimits } from '../job-history.js';
import type { Keys } from './keys.js';
import type { ScriptKeys, StoreRedis } from './scripts.js';

const LIMIT_FIELDS: Record<keyof HistoryLimits, string> = { ttlMs: 'ttl', maxEntries: 'max', maxBytes: 'bytes' };

/**
 * The job history in Redis (architecture §4): `hist`, `hist:failed` (sorted sets by finish
 * time), `hist:data` (CBOR entries), `hist:bytes`, `hist:cfg` (the cluster's limits).
 * Written by lua/recordHistory.lua; read here.
 */
export class HistoryRecords {
  constructor(private readonly redis: StoreRedis, private readonly keys: Keys, private readonly scripts: ScriptKeys) {}

  /** Records packed entries (id, ended, failed, CBOR entry) and trims the history; one script call. */
  record(now: number, limits: HistoryLimits, packed: Uint8Array): Promise<unknown> {
    return this.redis.recordHistory(...this.scripts.keys('recordHistory'), now, limits.ttlMs, limits.maxEntries, limits.maxBytes, packed);
  }

  /**
   * Writes `mine` as the cluster's limits unless some are set already (HSETNX each, in one
   * MULTI), and answers what is stored: null for a field that holds no number.
   */
  async settle(mine: HistoryLimits): Promise<Record<keyof HistoryLimits, number | null>> {
    const key = this.keys.histConfig;
    const names = Object.keys(LIMIT_FIELDS) as (keyof HistoryLimits)[];
    const multi = this.redis.multi();
    for (const name of names) multi.hsetnx(key, LIMIT_FIELDS[name], mine[name]);
    multi.hmget(key, ...names.map((name) => LIMIT_FIELDS[name]));
    const replies = await multi.exec();
    const stored = (replies?.at(-1)?.[1] ?? []) as (string | null)[];
    const answer = {} as Record<keyof HistoryLimits, number | null>;
    names.forEach((name, i) => {
      const value = Number(stored[i]);
      answer[name] = stored[i] === null || !Number.isFinite(value) ? null : value;
    });
    return answer;
  }

  /** One job's entry (CBOR), or null. */
  entry(id: string): Promise<Buffer | null> {
    return this.redis.hgetBuffer(this.keys.histData, id);
  }

  /** Entries (CBOR; null: trimmed meanwhile) of the given ids, in order. */
  entries(ids: readonly string[]): Promise<(Buffer | null)[]> {
    return this.redis.hmgetBuffer(this.keys.histData, ...ids);
  }

  /** Ids newest first, finished at `min` or later ('-inf': any), from `offset`, `count` at most. */
  newest(failedOnly: boolean, min: string, offset: number, count: number): Promise<string[]> {
    return this.redis.zrevrangebyscore(failedOnly ? this.keys.histFailed : this.keys.hist, '+inf', min, 'LIMIT', offset, count);
  }

  /** How many entries the history holds, and their bytes. */
  async size(): Promise<{ entries: number; bytes: number }> {
    const [entries, bytes] = await Promise.all([this.redis.zcard(this.keys.hist), this.redis.get(this.keys.histBytes)]);
    return { entries, bytes: Number(bytes ?? 0) };
  }
}
