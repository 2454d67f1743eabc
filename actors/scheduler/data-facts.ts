import type { NodeInfo } from '../../src/protocol.js';
import { hostQueue } from '../../src/store/keys.js';
import type { Store } from '../../src/store/store.js';
import { NO_DATA_FACTS, type DataFacts } from './locality.js';


/**
 * Reads, in one pipelined round trip, what routing needs for one submit: each data url's
 * size and holders (from the catalog, architecture §4), each node's queued and running jobs, and
 * which nodes hold the urls in memory (`data:mem:<node>`).
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
  // What each node holds in memory (its memory tier's fact, written rarely: pins and large data).
  if (urls.length > 0) for (const node of nodes) pipeline.hmget(keys.dataMem(node.name), ...urls);
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
  const inMemory = new Set<string>();
  if (urls.length > 0) {
    for (const node of nodes) {
      const values = (rows[row++]?.[1] as (string | null)[] | undefined) ?? [];
      urls.forEach((url, i) => {
        if (values[i]) inMemory.add(`${node.name}\0${url}`);
      });
    }
  }
  return {
    inMemory: (url, node) => inMemory.has(`${node}\0${url}`),
    known: (url) => sizes.has(url),
    size: (url) => sizes.get(url) ?? 0,
    holders: (url) => holders.get(url) ?? NO_DATA_FACTS.holders(url),
    load: (node) => load.get(node) ?? 0,
    place: (node) => load.set(node, (load.get(node) ?? 0) + 1),
  };
}
