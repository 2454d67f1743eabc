import type { NodeInfo } from '../../src/protocol.js';
import type { Store } from '../../src/store/store.js';
import { NO_DATA_FACTS, type DataFacts } from './locality.js';


/**
 * Reads, in one pipelined round trip, what routing needs for one submit: each data url's
 * size and holders (from the catalog, architecture §4), each node's queued and running jobs, and
 * which nodes hold the urls in memory (`data:mem:<node>`).
 * Routing of one batch then counts its own placements into the load, so equal choices spread.
 */
export async function readDataFacts(store: Store, urls: readonly string[], nodes: readonly NodeInfo[]): Promise<DataFacts & { place(node: string): void }> {
  const { sizes, holders, load, inMemory } = await store.routingFacts(urls, nodes);
  return {
    inMemory: (url, node) => inMemory.has(`${node}\0${url}`),
    known: (url) => sizes.has(url),
    size: (url) => sizes.get(url) ?? 0,
    holders: (url) => holders.get(url) ?? NO_DATA_FACTS.holders(url),
    load: (node) => load.get(node) ?? 0,
    place: (node) => load.set(node, (load.get(node) ?? 0) + 1),
  };
}
