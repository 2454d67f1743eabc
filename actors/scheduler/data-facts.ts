import type { NodeInfo } from '../../src/protocol.js';
import { hostQueue } from '../../src/store/keys.js';
import type { Store } from '../../src/store/store.js';
import { NO_DATA_FACTS, type DataFacts } from './locality.js';


/**
 * Reads, in one pipelined round trip, what routing needs for one submit: each data url's
 * size and holders (from the catalog, DESIGN §4) and each node's queued and running jobs.
 * Routing of one batch then counts its own placements into the load, so equal choices spread.
 */
export async function readDataFacts(store: Store, urls: readonly string[], nodes: readonly NodeInfo[]): Promise<DataFacts & { place(node: string): void }> {
  const { redis, keys } = store;
  const pipeline = redis.pipeline();
  for (const url of urls) {
    pipeline.hmget(keys.dataInfo(url), 'size', 'state');
    pipeline.smembers(keys.dataLoc(url));
  }
  for (const node of nodes) {
    pipeline.scard(keys.running(node.name));
    for (const queue of node.queues) pipeline.zcard(keys.queue(hostQueue(queue, node.name)));
  }
  const rows = (await pipeline.exec()) ?? [];
  const sizes = new Map<string, number>();
  const holders = new Map<string, Set<string>>();
  urls.forEach((url, i) => {
    const [size, state] = (rows[2 * i][1] as (string | null)[]) ?? [];
    // Only ready data steers: a url the catalog has no record of (or one still being written)
    // has no size or holders to weigh.
    if (state !== 'ready') return;
    sizes.set(url, Number(size ?? 0));
    holders.set(url, new Set((rows[2 * i + 1][1] as string[]) ?? []));
  });
  const load = new Map<string, number>();
  let row = 2 * urls.length;
  for (const node of nodes) {
    let total = 0;
    for (let i = 0; i <= node.queues.length; i++) total += Number(rows[row++][1] ?? 0);
    load.set(node.name, total);
  }
  return {
    known: (url) => sizes.has(url),
    size: (url) => sizes.get(url) ?? 0,
    holders: (url) => holders.get(url) ?? NO_DATA_FACTS.holders(url),
    load: (node) => load.get(node) ?? 0,
    place: (node) => load.set(node, (load.get(node) ?? 0) + 1),
  };
}
