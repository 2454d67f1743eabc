import { hostQueue } from '../../src/store/keys.js';

/** What locality routing needs to know about a call's data. */
export interface DataFacts {
  /** whether the catalog has a ready copy of the url anywhere */
  known(url: string): boolean;
  /** bytes of each data url (unknown urls count as 0: nothing to copy is known) */
  size(url: string): number;
  /** nodes holding a ready copy of each url */
  holders(url: string): ReadonlySet<string>;
  /** jobs queued for or running on a node, for tie-breaking */
  load(node: string): number;
}

const NOBODY: ReadonlySet<string> = new Set();

/** Facts for a batch without data: nothing known, nothing loaded. */
export const NO_DATA_FACTS: DataFacts = {
  known: () => false,
  size: () => 0,
  holders: () => NOBODY,
  load: () => 0,
};

/**
 * DESIGN §5: for every node serving the queue, sum the bytes of the call's data it does not
 * hold; sort by that sum, then by load, then by name; drop nodes over the threshold. The
 * call goes to those nodes' host queues in that order, or to the shared queue when no node
 * is within the threshold.
 */
export function localityQueues(
  queue: string,
  dataUrls: readonly string[],
  threshold: number,
  nodes: readonly { readonly name: string }[],
  facts: DataFacts,
): string[] {
  const urls = dataUrls.filter((url) => facts.known(url));
  if (urls.length === 0) return [queue];
  const ranked = nodes
    .map((node) => ({
      node: node.name,
      missing: urls.reduce((sum, url) => (facts.holders(url).has(node.name) ? sum : sum + facts.size(url)), 0),
      load: facts.load(node.name),
    }))
    .filter((r) => r.missing <= threshold)
    .sort((a, b) => a.missing - b.missing || a.load - b.load || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  if (ranked.length === 0) return [queue];
  return ranked.map((r) => hostQueue(queue, r.node));
}
