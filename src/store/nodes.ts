import type { Redis } from 'ioredis';
import type { RedisEpoch } from './epoch.js';
import type { Keys } from './keys.js';

/**
 * The membership records (architecture §4): `nodes` (hash name -> the node's JSON
 * description) and `node:<name>` (its heartbeat, a string with a TTL: its lease).
 */
export class NodeRecords {
  /**
   * @param beats the connection of heartbeats and leaving: one connection, so a beat still in
   *   flight when the node leaves lands before the removal, never after it
   */
  constructor(private readonly redis: Redis, private readonly beats: Redis, private readonly keys: Keys, private readonly epoch: RedisEpoch) {}

  /**
   * Renews the node's lease for `ttlMs` and writes its description, in one MULTI that also
   * reads the cluster's epoch: missing or changed, the epoch's data-loss listeners hear of it.
   */
  async beat(name: string, description: string, ttlMs: number): Promise<void> {
    const { beats, keys, epoch } = this;
    const expected = epoch.expected;
    const results = await beats.multi()
      .get(keys.epoch)
      .set(keys.node(name), Date.now(), 'PX', ttlMs)
      .hset(keys.nodes, name, description)
      .exec();
    const [error, found] = results?.[0] ?? [null, undefined];
    if (!error && (typeof found === 'string' || found === null)) await epoch.check(found, expected);
  }

  /** Drops the node's lease and description (it leaves the cluster). */
  async remove(name: string): Promise<void> {
    await this.beats.multi().del(this.keys.node(name)).hdel(this.keys.nodes, name).exec();
  }

  /** Every node's description and last heartbeat (null: its lease lapsed), sorted by name. */
  async all(): Promise<{ name: string; description: string; beat: string | null }[]> {
    const all = await this.redis.hgetall(this.keys.nodes);
    const names = Object.keys(all).sort();
    if (names.length === 0) return [];
    const beats = await this.redis.mget(...names.map((name) => this.keys.node(name)));
    return names.map((name, i) => ({ name, description: all[name], beat: beats[i] }));
  }

  /** One node's description and heartbeat (null when missing), read together. */
  async one(name: string): Promise<{ description: string | null; beat: string | null }> {
    const [description, beat] = await Promise.all([this.redis.hget(this.keys.nodes, name), this.redis.get(this.keys.node(name))]);
    return { description, beat };
  }
}
