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
  /** whether a node holds the url in its memory tier (pinned, or large data read lately); absent: nobody */
  inMemory?(url: string, node: string): boolean;
}

/**
 * The cost of a byte of a call's data on a node, relative to copying it there (docs/data.md):
 * a byte the node must copy from a holder costs 1 (network, a disk write, a disk read); a byte
 * on its disk costs DISK_BYTE_COST (a read and a decode); a byte in its memory costs nothing.
 */
export const DISK_BYTE_COST = 0.1;

const NOBODY: ReadonlySet<string> = new Set();

/** Facts for a batch without data: nothing known, nothing loaded. */
export const NO_DATA_FACTS: DataFacts = {
  known: () => false,
  size: () => 0,
  holders: () => NOBODY,
  load: () => 0,
};

/** The longest a batch's locality wait grows to for its data's size (a dead holder's jobs wait this long at most). */
export const MAX_COPY_WAIT_MS = 10_000;

/**
 * Delay scheduling's wait for one batch (architecture §5): `waitMs`, or longer when a later
 * choice would have to copy more data than `copyRate` moves in that time: the wait is then how
 * long copying the batch's largest call's data takes (at most MAX_COPY_WAIT_MS). A node that
 * must copy takes a job only once waiting for a holder has cost as much as the copy would, so
 * a holder about to be free keeps its work, and a holder with a long queue still shares it.
 * `waitMs` 0 (delay scheduling off) or `copyRate` 0 leave the wait as it is.
 */
export function localityWaitFor(calls: readonly { readonly dataUrls: readonly string[] }[], facts: DataFacts, waitMs: number, copyRate: number): number {
  if (waitMs <= 0 || copyRate <= 0) return waitMs;
  let largest = 0;
  for (const call of calls) {
    let bytes = 0;
    for (const url of call.dataUrls) if (facts.known(url)) bytes += facts.size(url);
    if (bytes > largest) largest = bytes;
  }
  return Math.max(waitMs, Math.min(MAX_COPY_WAIT_MS, Math.ceil((largest / copyRate) * 1000)));
}

/**
 * architecture §5: for every node serving the queue, sum the bytes of the call's data it does not
 * hold; drop nodes over the threshold; sort by cost (bytes to copy, plus a tenth of the bytes
 * it holds on disk only: data in memory is free), then by load, then by name. The
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
    .map((node) => {
      let missing = 0;
      let onDisk = 0;
      for (const url of urls) {
        if (!facts.holders(url).has(node.name)) missing += facts.size(url);
        else if (!facts.inMemory?.(url, node.name)) onDisk += facts.size(url);
      }
      return { node: node.name, missing, cost: missing + DISK_BYTE_COST * onDisk, load: facts.load(node.name) };
    })
    .filter((r) => r.missing <= threshold)
    .sort((a, b) => a.cost - b.cost || a.load - b.load || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  if (ranked.length === 0) return [queue];
  return ranked.map((r) => hostQueue(queue, r.node));
}
