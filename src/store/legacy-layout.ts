import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/** What moving the keys of the layout before hash tags did. */
export interface LegacyMove {
  /** the base the keys were found under (`ks:` or `P:ks:`) */
  from: string;
  /** keys renamed to the hash-tagged base */
  moved: number;
  /** keys left where they were because their new name already exists */
  kept: number;
}

/** Keys moved per round trip. */
const BATCH = 500;

/**
 * Moves the keys of the layout before hash tags (`ks:*`, `P:ks:*`) to the hash-tagged base
 * (`{ks}:*`, `{P}:ks:*`), TTLs kept (RENAMENX): jobs, queues, batches, history and, above all,
 * the data catalog survive the upgrade. It refuses while a node of that layout still beats
 * (its heartbeat key is live): renaming keys under a running older node would lose its work;
 * stop those nodes first. Without Lua (one SCAN loop, pipelined RENAMENX), for a single Redis
 * or Sentinel (the old layout never worked on Redis Cluster). Safe to run by several nodes at
 * once: a key another node moved first is just not found.
 * Returns null when no key of the old layout exists.
 */
export async function moveLegacyKeys(redis: Redis, keys: Keys): Promise<LegacyMove | null> {
  const from = keys.legacyBase;
  // With no prefix, `ks:*` also matches the old keys of a cluster whose prefix was "ks" (`ks:ks:*`): not ours.
  const foreign = keys.prefix ? undefined : 'ks:ks:';
  const pattern = `${from.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
  let any = false;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    any = found.some((key) => !foreign || !key.startsWith(foreign));
  } while (!any && cursor !== '0');
  if (!any) return null;

  const oldNodes = await redis.hkeys(`${from}nodes`);
  if (oldNodes.length > 0) {
    const beats = await redis.mget(...oldNodes.map((name) => `${from}node:${name}`));
    const alive = oldNodes.filter((_, i) => beats[i] !== null);
    if (alive.length > 0) {
      throw new Error(`Redis holds keys of the layout before hash tags (${from}*) and node${alive.length > 1 ? 's' : ''} ${alive.join(', ')} of an older version still run${alive.length > 1 ? '' : 's'} there: `
        + `stop every node of the older version, then start this one again (it moves those keys to ${keys.base}*)`);
    }
  }

  const result: LegacyMove = { from, moved: 0, kept: 0 };
  cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH);
    cursor = next;
    const mine = found.filter((key) => !foreign || !key.startsWith(foreign));
    if (mine.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of mine) pipeline.renamenx(key, keys.base + key.slice(from.length));
    for (const [error, renamed] of (await pipeline.exec()) ?? []) {
      if (error) {
        if (!/no such key/i.test(error.message)) throw error;
      } else if (renamed === 1) {
        result.moved++;
      } else {
        result.kept++;
      }
    }
  } while (cursor !== '0');
  return result;
}
