import type { Bus, BusSubscription } from './bus.js';
import type { NodeInfo } from './protocol.js';
import type { Store } from './store/store.js';
import { nodeSubject } from './subjects.js';

type NodeDescription = Omit<NodeInfo, 'heartbeat'>;

export interface Membership {
  live: NodeInfo[];
  /** registered nodes whose heartbeat expired: killed, or cut off */
  lost: NodeDescription[];
}

/**
 * Node membership in Redis. `{ks}:nodes` maps each registered node to its description;
 * `{ks}:node:<name>` is its heartbeat, renewed every `heartbeatMs` with a TTL of three
 * heartbeats: the node's lease on every job it runs. A node that stops cleanly leaves at
 * once; a killed one is lost when its heartbeat expires, and the reaper takes its jobs back.
 * Joining and leaving are announced on `ks.node.<name>` so that the other nodes read the
 * membership again at once instead of routing with a view up to `maxAgeMs` old.
 */
export class Registry {
  private timer?: NodeJS.Timeout;
  private cache?: { at: number; membership: Promise<Membership> };
  private changes?: BusSubscription;
  private stopWatchingLoss?: () => void;

  constructor(
    private readonly store: Store,
    private self: NodeDescription,
    private readonly heartbeatMs: number,
    private readonly bus?: Bus,
  ) {}

  /** The functions this node's --module exports (callable by name). */
  get functions(): readonly string[] {
    return this.self.functions;
  }

  get ttlMs(): number {
    return this.heartbeatMs * 3;
  }

  async join(): Promise<void> {
    await this.store.epoch.establish();
    this.stopWatchingLoss = this.store.onDataLoss(() => {
      this.cache = undefined; // the beat that found the loss registered this node again
    });
    await this.beat();
    this.cache = undefined; // a view read before joining lacks this node
    this.timer = setInterval(() => {
      this.beat().catch(() => undefined);
    }, this.heartbeatMs);
    this.timer.unref();
    if (this.bus) {
      this.changes = this.bus.subscribe(nodeSubject(this.bus, '>'), () => {
        this.cache = undefined;
      });
      await this.announce('joined');
    }
  }

  /**
   * A draining node keeps its lease (the heartbeat) on the jobs it still runs, but serves no
   * queue any more: nothing is routed to it, and the other nodes read the membership again.
   */
  async withdraw(): Promise<void> {
    this.self = { ...this.self, queues: [], draining: true };
    this.cache = undefined;
    await this.beat();
    await this.announce('leaving');
  }

  async leave(): Promise<void> {
    clearInterval(this.timer);
    this.changes?.unsubscribe();
    this.stopWatchingLoss?.();
    await this.store.nodes.remove(this.self.name);
    this.cache = undefined;
    await this.announce('leaving');
  }

  /** Renews the lease now (the reaper found it lapsed while this node runs). */
  async renew(): Promise<void> {
    await this.beat();
    this.cache = undefined;
  }

  /** Tells the other nodes; flushed, so that they have it before this node says it is up (or gone). */
  private async announce(change: 'joined' | 'leaving'): Promise<void> {
    if (!this.bus) return;
    this.bus.publish(nodeSubject(this.bus, this.self.name), new TextEncoder().encode(change));
    await this.bus.flush().catch(() => undefined);
  }

  /**
   * Renews the lease, and re-registers in case a reaper took this node for lost (a long stall)
   * or Redis lost its data. The same round trip reads the cluster's epoch: missing or changed,
   * Redis lost its data, and the Store's `onDataLoss` listeners hear of it.
   */
  private async beat(): Promise<void> {
    await this.store.nodes.beat(this.self.name, JSON.stringify(this.self), this.ttlMs);
  }

  /** Live nodes sorted by name, read at most every `maxAgeMs`. */
  async liveNodes(maxAgeMs = 250): Promise<NodeInfo[]> {
    return (await this.membership(maxAgeMs)).live;
  }

  membership(maxAgeMs = 250): Promise<Membership> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > maxAgeMs) {
      const membership = this.read();
      this.cache = { at: now, membership };
      membership.catch(() => {
        this.cache = undefined;
      });
    }
    return this.cache.membership;
  }

  private async read(): Promise<Membership> {
    const membership: Membership = { live: [], lost: [] };
    for (const { name, description: text, beat } of await this.store.nodes.all()) {
      let description: NodeDescription;
      try {
        description = { ...(JSON.parse(text) as NodeDescription), name };
      } catch {
        continue;
      }
      if (beat === null) membership.lost.push(description);
      else membership.live.push({ ...description, heartbeat: Number(beat) });
    }
    return membership;
  }
}
