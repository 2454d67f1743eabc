import type { NodeInfo } from './protocol.js';
import type { Store } from './store/store.js';

/**
 * Node membership in Redis: each node keeps `ks:node:<name>` alive with a heartbeat and a
 * TTL of three heartbeats, and is listed in `ks:nodes`. A node that stops cleanly leaves at
 * once; a killed one drops out when its key expires.
 */
export class Registry {
  private timer?: NodeJS.Timeout;
  private cache?: { at: number; nodes: Promise<NodeInfo[]> };

  constructor(
    private readonly store: Store,
    private readonly self: Omit<NodeInfo, 'heartbeat'>,
    private readonly heartbeatMs: number,
  ) {}

  get ttlMs(): number {
    return this.heartbeatMs * 3;
  }

  async join(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch(() => undefined);
    }, this.heartbeatMs);
    this.timer.unref();
  }

  async leave(): Promise<void> {
    clearInterval(this.timer);
    const { redis, keys } = this.store;
    await redis.multi().del(keys.node(this.self.name)).srem(keys.nodes, this.self.name).exec();
  }

  private async beat(): Promise<void> {
    const { redis, keys } = this.store;
    const key = keys.node(this.self.name);
    await redis.multi()
      .hset(key, {
        url: this.self.url,
        queues: this.self.queues.join(','),
        workers: this.self.workers,
        ro: this.self.readOnly ? 1 : 0,
        started: this.self.started,
        hb: Date.now(),
        fns: this.self.functions.join(','),
      })
      .pexpire(key, this.ttlMs)
      .sadd(keys.nodes, this.self.name)
      .exec();
  }

  /** Live nodes, read at most every `maxAgeMs`. */
  liveNodes(maxAgeMs = 250): Promise<NodeInfo[]> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > maxAgeMs) {
      const nodes = this.readNodes();
      this.cache = { at: now, nodes };
      nodes.catch(() => {
        this.cache = undefined;
      });
    }
    return this.cache.nodes;
  }

  private async readNodes(): Promise<NodeInfo[]> {
    const { redis, keys } = this.store;
    const names = (await redis.smembers(keys.nodes)).sort();
    if (names.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const name of names) pipeline.hgetall(keys.node(name));
    const rows = (await pipeline.exec()) ?? [];
    const nodes: NodeInfo[] = [];
    rows.forEach(([error, row], i) => {
      const h = row as Record<string, string> | null;
      if (error || !h || !h.url) return;
      nodes.push({
        name: names[i],
        url: h.url,
        queues: h.queues ? h.queues.split(',') : [],
        workers: Number(h.workers),
        readOnly: h.ro === '1',
        started: Number(h.started),
        heartbeat: Number(h.hb),
        functions: h.fns ? h.fns.split(',') : [],
      });
    });
    return nodes;
  }
}
