/**
 * Routing without inheritance: a Router only chooses the queues of each call, from a
 * read-only view of the cluster. The Scheduler keeps the checks, the writes and the wake-ups
 * (docs/scheduling.md).
 */
import type { CallSpec, NodeInfo } from '../../src/protocol.js';
import { localityQueues, NO_DATA_FACTS, type DataFacts } from './locality.js';

/** One call as routing sees it. */
export interface RoutableCall {
  readonly index: number;
  /** the queue asked for (default "default"); never a host queue here */
  readonly queue: string;
  readonly dataUrls: readonly string[];
  /** bytes a node may have to copy before it is dropped from the candidates */
  readonly dataThreshold: number;
  readonly call: Readonly<CallSpec>;
}

/** A live node as routing sees it (frozen). */
export interface NodeView {
  readonly name: string;
  readonly url: string;
  readonly queues: readonly string[];
  readonly workers: number;
  readonly readOnly: boolean;
  readonly started: number;
  readonly heartbeat: number;
  readonly functions: readonly string[];
  /** the named environments (`--env`) the node offers */
  readonly envs?: readonly string[];
}

/** What routing knows about the cluster when it decides: read-only, no store, no bus. */
export interface ClusterView {
  /** live nodes, sorted by name */
  readonly nodes: readonly NodeView[];
  /** live nodes that serve a queue */
  nodesServing(queue: string): readonly NodeView[];
  /** the catalog's sizes and holders of the batch's data urls, and each node's load */
  readonly data: DataFacts;
}

/**
 * Chooses where each call goes: its queues, most preferred first (`hostQueue(queue, node)`
 * for one node; the k-th becomes claimable k × the locality wait after the first). An empty
 * list fails the call with `NoRoute`. Calls pinned to a host queue never reach a Router.
 */
export interface Router {
  route(call: RoutableCall, cluster: ClusterView): string[] | Promise<string[]>;
}

/** The default Router (architecture §5): nodes holding the call's data first, then by load and name. */
export const localityRouter: Router = Object.freeze({
  route(call: RoutableCall, cluster: ClusterView): string[] {
    return localityQueues(call.queue, call.dataUrls, call.dataThreshold, cluster.nodesServing(call.queue), cluster.data);
  },
});

/** Frozen copies of a membership read, kept as long as the registry keeps serving that read. */
const frozenNodes = new WeakMap<readonly NodeInfo[], readonly NodeView[]>();

function freezeNodes(nodes: readonly NodeInfo[]): readonly NodeView[] {
  let frozen = frozenNodes.get(nodes);
  if (!frozen) {
    frozen = Object.freeze(nodes.map((n) => Object.freeze({ ...n, queues: Object.freeze([...n.queues]), functions: Object.freeze([...n.functions]), ...(n.envs ? { envs: Object.freeze([...n.envs]) } : {}) })));
    frozenNodes.set(nodes, frozen);
  }
  return frozen;
}

/** A set a router can read but not change (a frozen `Set` still takes `add`). */
class ReadonlyView<T> implements ReadonlySet<T> {
  constructor(private readonly inner: ReadonlySet<T>) {}
  get size(): number {
    return this.inner.size;
  }
  has(value: T): boolean {
    return this.inner.has(value);
  }
  forEach(each: (value: T, same: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    this.inner.forEach((value) => each.call(thisArg, value, value, this));
  }
  entries(): SetIterator<[T, T]> {
    return this.inner.entries();
  }
  keys(): SetIterator<T> {
    return this.inner.keys();
  }
  values(): SetIterator<T> {
    return this.inner.values();
  }
  [Symbol.iterator](): SetIterator<T> {
    return this.inner.values();
  }
}

function readonlyFacts(facts: DataFacts): DataFacts {
  const holders = new Map<string, ReadonlySet<string>>();
  return Object.freeze({
    known: (url: string) => facts.known(url),
    size: (url: string) => facts.size(url),
    holders: (url: string) => {
      let view = holders.get(url);
      if (!view) holders.set(url, (view = new ReadonlyView(facts.holders(url))));
      return view;
    },
    // Live: the batch's earlier placements count.
    load: (node: string) => facts.load(node),
    ...(facts.inMemory ? { inMemory: (url: string, node: string) => facts.inMemory!(url, node) } : {}),
  });
}

/** The view a Router gets of one submit: frozen nodes, the data facts without their writer. */
export function clusterView(nodes: readonly NodeInfo[], data: DataFacts = NO_DATA_FACTS): ClusterView {
  const live = freezeNodes(nodes);
  // Asked once per call: computed once per queue.
  const serving = new Map<string, readonly NodeView[]>();
  return Object.freeze({
    nodes: live,
    nodesServing: (queue: string) => {
      let found = serving.get(queue);
      if (!found) {
        found = Object.freeze(live.filter((n) => n.queues.includes(queue)));
        serving.set(queue, found);
      }
      return found;
    },
    data: readonlyFacts(data),
  });
}
