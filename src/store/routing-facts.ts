import type { Redis } from 'ioredis';
import { hostQueue, type Keys } from './keys.js';

/** A node as routing facts need it: its name and the queues it serves. */
export interface NodeQueueNames {
  name: string;
  queues: readonly string[];
}

/** What routing one submit needs from Redis (see readRoutingFacts). */
export interface RoutingFacts {
  /** size of each url the catalog holds as ready data */
  sizes: Map<string, number>;
  /** holders of each ready url */
  holders: Map<string, Set<string>>;
  /** per node: jobs running on it plus jobs waiting in its host queues */
  load: Map<string, number>;
  /** `<node>\0<url>` for every url a node holds in memory */
  inMemory: Set<string>;
}

/**
 * Reads, in one pipelined round trip, each data url's size and holders (the catalog,
 * `data:info:<url>`, `data:loc:<url>`), each node's running set and host queues' lengths,
 * and which nodes hold the urls in memory (`data:mem:<node>`).
 */
export async function readRoutingFacts(redis: Redis, keys: Keys, urls: readonly string[], nodes: readonly NodeQueueNames[]): Promise<RoutingFacts> {
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
  return { sizes, holders, load, inMemory };
}
