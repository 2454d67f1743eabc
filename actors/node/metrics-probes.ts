import type { Bus } from '../../src/bus.js';
import type { Store } from '../../src/store/store.js';
import type { MetricsProbes } from './metrics.js';

/** The node's status as far as metrics need it (the Node actor's `status` answer). */
export interface StatusForMetrics {
  executor: { threads: number; busy: number };
  data: { bytes: number; memory: { used: number } };
}

/** Reads a scrape's gauges: this node's status, queue lengths from Redis, and whether Redis and NATS answer. */
export function metricsProbes(store: Store, bus: Bus, status: () => Promise<StatusForMetrics>): MetricsProbes {
  return {
    threads: async () => {
      const { executor } = await status();
      return { busy: executor.busy, idle: executor.threads - executor.busy };
    },
    diskBytesHeld: async () => (await status()).data.bytes,
    memoryBytesHeld: async () => (await status()).data.memory.used,
    // The set of queues ever pushed to, then one ZCARD each (sent in one write): no SCAN.
    queueWaiting: async () => {
      const names = await store.queueNames();
      const lengths = await store.jobs.queueLengths(names);
      return Object.fromEntries(names.map((name, i) => [name, lengths[i]]));
    },
    redisUp: () => store.ping(),
    natsUp: async () => {
      await bus.flush();
      return true;
    },
  };
}
