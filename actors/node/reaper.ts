import { randomUUID } from 'node:crypto';
import type { Bus } from '../../src/bus.js';
import { encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { NodeInfo } from '../../src/protocol.js';
import type { Registry } from '../../src/registry.js';
import { hostQueue, parseHostQueue } from '../../src/store/keys.js';
import type { ReapedJob, Store } from '../../src/store/store.js';
import { wakeSubject } from '../../src/subjects.js';
import { EventPublisher } from '../executor/event-publisher.js';
import type { NodeMetrics } from './metrics.js';

export interface ReaperDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  registry: Registry;
  log: Logger;
  metrics?: NodeMetrics;
}

type NodeQueues = Pick<NodeInfo, 'name' | 'queues'>;

/** Why a node's jobs are taken back. */
type Gone = 'lost' | 'stopped';

/** Every queue the given nodes serve: their shared queues and their host queues. */
export function servedQueues(nodes: readonly NodeQueues[]): Set<string> {
  const served = new Set<string>();
  for (const node of nodes) {
    for (const queue of node.queues) {
      served.add(queue);
      served.add(hostQueue(queue, node.name));
    }
  }
  return served;
}

/**
 * Runs on every node, one at a time cluster-wide (a Redis lock), once per heartbeat:
 *
 * - nodes whose heartbeat expired are lost: the jobs they were running are re-queued
 *   (`lostJobRetries` times, into queues a live node serves) or failed with NodeLost;
 * - queued jobs that no live node can run any more (every queue they wait in belongs to a
 *   node that is gone, or nobody serves it) are failed with NoRoute. This looks at every queue
 *   ever pushed to (the set `queues`), so it also catches a call accepted a moment before its
 *   only node was found gone, and nodes that left cleanly.
 *
 * So a client never waits forever on a node that is gone. A node that stops cleanly hands
 * its running jobs over the same way (`handOver`).
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
   * killed before the reaper noticed: take them back before this one joins. This node serves
   * its queues again in a moment, so they count as served.
   */
  async reclaimLeftovers(): Promise<void> {
    const { config, registry } = this.deps;
    const served = servedQueues([...(await registry.liveNodes(0)), { name: config.nodeName, queues: config.queues }]);
    await this.reap({ name: config.nodeName, queues: config.queues }, 'lost', served);
  }

  /**
   * A clean stop, once this node has left the registry and its executor has stopped: the jobs
   * it was running are re-queued for the live nodes (or failed). Queued jobs only it could
   * run are failed by the next reaper pass of a node still running.
   */
  async handOver(): Promise<void> {
    const { config, registry } = this.deps;
    const live = (await registry.liveNodes(0)).filter((n) => n.name !== config.nodeName);
    await this.reap({ name: config.nodeName, queues: config.queues }, 'stopped', servedQueues(live));
    this.events.flush();
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { store, config, registry } = this.deps;
      await withLock(store, store.keys.reaperLock, config.nodeName, config.heartbeatMs * 2, async () => {
        const { live, lost } = await registry.membership(0);
        // A node running this pass is alive: its own lease lapsed only because its heartbeat
        // came late (a stalled or starved process). Its jobs still run in its own pool, so it
        // renews its lease instead of failing or re-queuing them.
        const others = lost.filter((node) => node.name !== config.nodeName);
        if (others.length < lost.length) {
          this.deps.log.warn({ node: config.nodeName }, 'this node\'s own heartbeat lapsed (the process was stalled or starved of CPU): renewing it');
          await registry.renew();
        }
        const served = servedQueues([...live, ...(others.length < lost.length ? lost.filter((node) => node.name === config.nodeName) : [])]);
        for (const node of others) await this.reap(node, 'lost', served);
        await this.failUnserved(served, lost);
      });
    } catch (error) {
      // A lost connection is reported once by the node's connection watch.
      if (this.deps.store.connected) this.deps.log.warn({ err: error }, 'reaper pass failed');
    } finally {
      this.events.flush();
      this.running = false;
    }
  }

  private async reap(node: NodeQueues, why: Gone, served: Set<string>): Promise<void> {
    const { store, config, log, bus } = this.deps;
    const what = why === 'lost'
      ? `node ${node.name} was lost (no heartbeat for ${config.heartbeatMs * 3} ms) while running this job`
      : `node ${node.name} stopped while running this job`;
    const errors: Record<Exclude<ReapedJob['outcome'], 'requeued'>, RemoteErrorInfo> = {
      retried: { name: 'NodeLost', message: `${what}; it was not run again: a job is re-queued at most ${config.lostJobRetries} time(s) after losing its node (--lost-job-retries)` },
      pinned: { name: 'NodeLost', message: `${what}; it was not run again: it was pinned to that node` },
      unserved: { name: 'NodeLost', message: `${what}; it was not run again: no live node serves its queue(s)` },
    };
    const reaped = await store.reapNode(node.name, {
      maxRetries: config.lostJobRetries,
      served: [...served],
      retriedError: encode(errors.retried),
      pinnedError: encode(errors.pinned),
      unservedError: encode(errors.unserved),
      ttlMs: config.resultTtlMs,
    });
    this.deps.metrics?.jobsEnded(reaped.filter((job) => job.outcome !== 'requeued').map((job) => job.id), 'lost');
    let requeued = 0;
    for (const job of reaped) {
      log.debug({ job: job.id, node: node.name, outcome: job.outcome }, job.outcome === 'requeued' ? 'job re-queued: its node is gone' : 'job failed: its node is gone');
      if (job.outcome === 'requeued') requeued++;
      else this.events.add(job.head, { type: 'failed', id: job.id, error: errors[job.outcome] });
    }
    if (reaped.length === 0) return;
    log.warn({ node: node.name, why, requeued, failed: reaped.length - requeued }, 'took back the jobs of a node that is gone');
    if (requeued > 0) for (const q of served) bus.publish(wakeSubject(bus, q), new Uint8Array(0));
  }

  /** Fails the queued jobs that no live node can run: every queue they wait in is unserved. */
  private async failUnserved(served: Set<string>, lost: readonly NodeQueues[]): Promise<void> {
    const { store, config, log } = this.deps;
    const unserved = (await store.queueNames()).filter((q) => !served.has(q));
    for (const queue of unserved) {
      const error: RemoteErrorInfo = { name: 'NoRoute', message: `no live node serves queue "${queue}" any more${goneReason(queue, lost)}` };
      const failed = await store.failUnserved(queue, [...served], { error: encode(error), ttlMs: config.resultTtlMs });
      for (const { id, head } of failed) this.events.add(head, { type: 'failed', id, error });
      this.deps.metrics?.jobsEnded(failed.map((job) => job.id), 'lost');
      if (failed.length > 0) log.warn({ queue, failed: failed.length }, 'failed queued jobs that no live node can run');
    }
  }
}

/**
 * Runs `pass` holding the Redis lock `key` (PX `ttlMs`, renewed every third of that while the
 * pass runs); resolves false without running it when another holder has the lock. The lock
 * holds `owner` and a random token, and is renewed and released only while it still holds
 * them: a pass that outlasts its lock (a stalled process) never deletes another's.
 */
export async function withLock(store: Store, key: string, owner: string, ttlMs: number, pass: () => Promise<void>): Promise<boolean> {
  const token = `${owner} ${randomUUID()}`;
  if (!(await store.takeLock(key, token, ttlMs))) return false;
  const renew = setInterval(() => void store.renewLock(key, token, ttlMs).catch(() => undefined), ttlMs / 3);
  try {
    await pass();
  } finally {
    clearInterval(renew);
    await store.renewLock(key, token, 0);
  }
  return true;
}

/** Names the node that served a queue when it was just found lost. */
function goneReason(queue: string, lost: readonly NodeQueues[]): string {
  const pinned = parseHostQueue(queue);
  const node = pinned ? lost.find((n) => n.name === pinned.node) : lost.find((n) => n.queues.includes(queue));
  if (node) return ` (node ${node.name} was lost)`;
  return pinned ? ` (node ${pinned.node} is gone)` : '';
}
