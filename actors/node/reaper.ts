import type { Bus } from '../../src/bus.js';
import { encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Registry } from '../../src/registry.js';
import { hostQueue } from '../../src/store/keys.js';
import type { Store } from '../../src/store/store.js';
import { EventPublisher } from '../executor/event-publisher.js';

export interface ReaperDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  registry: Registry;
  log: Logger;
}

/**
 * Runs on every node, one at a time cluster-wide (a Redis lock): finds nodes whose heartbeat
 * expired and takes their work back. Running jobs are re-queued (`lostJobRetries` times) or
 * failed with NodeLost; queued jobs that no live node can run any more (pinned to the lost
 * node, or on a queue nobody else serves) are failed with NoRoute. So a client never waits
 * forever on a node that is gone.
 */
export class Reaper {
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly events: EventPublisher;

  constructor(private readonly deps: ReaperDeps) {
    this.events = new EventPublisher(deps.bus);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.deps.config.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Jobs still marked running on this node's name belong to an earlier process that was
   * killed before the reaper noticed: take them back before this one joins.
   */
  async reclaimLeftovers(): Promise<void> {
    await this.reap(this.deps.config.nodeName, [], []);
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { store, config, registry } = this.deps;
      const lock = await store.redis.set(store.keys.reaperLock, config.nodeName, 'PX', config.heartbeatMs * 2, 'NX');
      if (lock !== 'OK') return;
      try {
        const { live, lost } = await registry.membership(0);
        for (const node of lost) await this.reap(node.name, node.queues, live.flatMap((n) => n.queues));
      } finally {
        await store.redis.del(store.keys.reaperLock);
      }
    } catch (error) {
      this.deps.log.warn({ err: error }, 'reaper pass failed');
    } finally {
      this.running = false;
    }
  }

  private async reap(name: string, queues: string[], liveQueues: string[]): Promise<void> {
    const { store, config, log } = this.deps;
    const lost = `node ${name} was lost (no heartbeat for ${config.heartbeatMs * 3} ms) while running this job`;
    const errors: Record<'retried' | 'pinned', RemoteErrorInfo> = {
      retried: { name: 'NodeLost', message: `${lost}; it was not run again: it had been re-queued ${config.lostJobRetries} time(s) already` },
      pinned: { name: 'NodeLost', message: `${lost}; it was not run again: it was pinned to that node` },
    };
    const reaped = await store.reapNode(name, {
      maxRetries: config.lostJobRetries,
      retriedError: encode(errors.retried),
      pinnedError: encode(errors.pinned),
      ttlMs: config.resultTtlMs,
    });
    let requeued = 0;
    for (const job of reaped) {
      if (job.outcome === 'requeued') requeued++;
      else this.events.add(job.head, { type: 'failed', id: job.id, error: errors[job.outcome] });
    }

    // Queued work that only the lost node could run.
    const served = new Set(liveQueues);
    const gone = [...queues.map((q) => hostQueue(q, name)), ...queues.filter((q) => !served.has(q))];
    let unservable = 0;
    for (const queue of gone) {
      const ids = await store.redis.zrange(store.keys.queue(queue), 0, -1);
      if (ids.length === 0) continue;
      const error: RemoteErrorInfo = { name: 'NoRoute', message: `no live node serves queue "${queue}" any more (node ${name} was lost)` };
      const dropped = await store.failUnservable(ids, gone, { error: encode(error), ttlMs: config.resultTtlMs });
      for (const { id, head } of dropped) this.events.add(head, { type: 'failed', id, error });
      unservable += dropped.length;
    }
    this.events.flush();
    if (reaped.length + unservable === 0) return;
    log.warn({ node: name, requeued, failed: reaped.length - requeued, unservable }, 'reaped a lost node');
    if (requeued > 0) {
      const { bus } = this.deps;
      for (const q of new Set(liveQueues)) bus.publish(bus.subject('ks', 'wake', q), new Uint8Array(0));
    }
  }
}
