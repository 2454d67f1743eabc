import { Actor, type ActorRef, type Reply } from '../../src/actor.js';
import type { Bus } from '../../src/bus.js';
import { encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import { KsError, unknownFunction } from '../../src/errors.js';
import { CheckedSources } from '../../src/function-source.js';
import { jobId } from '../../src/ids.js';
import type { Logger } from '../../src/log.js';
import type { BulkCallRequest, BulkCallResponse, CallSpec, NodeInfo } from '../../src/protocol.js';
import type { Registry } from '../../src/registry.js';
import { hostQueue, parseHostQueue } from '../../src/store/keys.js';
import type { ClaimedJob, JobToEnqueue, Store, SubmittedBatch } from '../../src/store/store.js';
import { wakeSubject } from '../../src/subjects.js';
import type { JobOptions } from '../executor/executor.js';
import type { NodeMetrics } from '../node/metrics.js';
import { readDataFacts } from './data-facts.js';
import { localityWaitFor, type DataFacts } from './locality.js';
import { clusterView, localityRouter, type ClusterView, type RoutableCall, type Router } from './router.js';

export type SchedulerMessage = {
  type: 'submit';
  batch: string;
  request: BulkCallRequest;
  reply: Reply<BulkCallResponse>;
};

/**
 * What a Node needs of its scheduler: an actor taking `submit`, attached before the first.
 * Checked by shape, so a Scheduler from another copy of kitchensink fits too.
 */
export interface SchedulerActor extends ActorRef<SchedulerMessage> {
  attach(deps: SchedulerDeps): void;
}

export interface SchedulerOptions {
  /** chooses each call's queues (default: `localityRouter`) */
  router?: Router;
  name?: string;
}

/** This node's executor, as the Scheduler sees it: it may claim jobs for it while enqueueing. */
export interface LocalExecutor {
  /** the queues it serves */
  readonly queues: readonly string[];
  /** how many idle threads are promised to this enqueue */
  reserve(): Promise<number>;
  /**
   * Hands over the jobs claimed for it (Redis has acknowledged them as running here) and
   * returns the reservation; `sources` holds the shipped functions' sources by sha256.
   */
  adopt(jobs: ClaimedJob[], reserved: number, sources?: Record<string, string>): void;
}

export interface SchedulerDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  registry: Registry;
  log: Logger;
  local?: LocalExecutor;
  metrics?: NodeMetrics;
}

export const DEFAULT_DATA_THRESHOLD = 200 * 1024 * 1024;
const MAX_CHECKED_SOURCES = 10_000;

/**
 * Turns a bulk call into jobs: validates functions and queues, routes each call to one or
 * more queues (its Router), writes the batch to Redis all-or-nothing (Store.submitBatch) and
 * wakes the executors. To route differently, give it a Router (`new Node({ router })`, `ks start
 * --router`); to replace the whole actor, give the Node another one (docs/scheduling.md).
 *
 * Mailbox: serial. One submit at a time, from its checks to its enqueue.
 */
export class Scheduler extends Actor<SchedulerMessage> implements SchedulerActor, Router {
  protected deps!: SchedulerDeps;
  readonly router: Router;
  /** shipped functions already checked */
  private readonly checked = new CheckedSources(MAX_CHECKED_SOURCES);
  /** when the live nodes were last read again because a data holder was not among them */
  private holderRefreshAt = 0;

  constructor(options: SchedulerOptions = {}) {
    super(options.name ?? 'scheduler');
    this.router = options.router ?? localityRouter;
  }

  /** Called by the Node before any message arrives. */
  attach(deps: SchedulerDeps): void {
    this.deps = deps;
  }

  /** The queues a call goes to, most preferred first: its Router's choice (a subclass may override it). */
  route(call: RoutableCall, cluster: ClusterView): string[] | Promise<string[]> {
    return this.router.route(call, cluster);
  }

  protected receive(message: SchedulerMessage): Promise<void> {
    return this.submit(message.batch, message.request).then(message.reply.resolve, message.reply.reject);
  }

  private async submit(batch: string, request: BulkCallRequest): Promise<BulkCallResponse> {
    const { config, store, bus, registry } = this.deps;
    this.checkFunctions(request);
    let nodes = await registry.liveNodes();
    // The cached view may predate a node that just joined: read again before refusing a call.
    if (!everyQueueServed(request.calls, nodes)) nodes = await registry.liveNodes(0);
    const urls = new Set<string>();
    for (const call of request.calls) if (!call.options?.noRouteData) for (const url of call.dataUrls ?? []) urls.add(url);
    let facts = urls.size > 0 ? await readDataFacts(store, [...urls], nodes) : undefined;
    if (facts && holdsUnknownNode(facts, urls, nodes) && Date.now() - this.holderRefreshAt > config.heartbeatMs) {
      // A holder the cached view lacks may have just joined (or be long dead: hence at most
      // one such read per heartbeat).
      this.holderRefreshAt = Date.now();
      const fresh = await registry.liveNodes(0);
      if (fresh.map((n) => n.name).join() !== nodes.map((n) => n.name).join()) {
        nodes = fresh;
        facts = await readDataFacts(store, [...urls], nodes);
      }
    }
    const cluster = clusterView(nodes, facts);
    this.checkRegisteredNames(request.calls, nodes);

    const optionCache = new Map<string, Uint8Array | null>();
    const jobs: JobToEnqueue[] = [];
    const ids: string[] = [];
    for (let index = 0; index < request.calls.length; index++) {
      const call = request.calls[index];
      const id = jobId(batch, index);
      // Awaited only when a custom route() is asynchronous: a promise per call costs.
      const routed = this.queuesFor(call, index, cluster);
      const queues = Array.isArray(routed) ? routed : await routed;
      if (queues.length === 0) throw new KsError('no_route', `call ${index}: the scheduler found no queue for it (queue "${call.queue ?? 'default'}")`);
      if (facts) {
        const first = parseHostQueue(queues[0]);
        if (first) facts.place(first.node);
      }
      ids.push(id);
      jobs.push({
        id,
        fn: call.fn,
        registered: call.registered === true,
        args: call.args,
        opts: this.jobOptions(call, request, optionCache),
        queues,
      });
      const { priority, delayMs } = call.options ?? {};
      if (priority) jobs[jobs.length - 1].priority = priority;
      if (delayMs) jobs[jobs.length - 1].delayMs = delayMs;
    }

    // Idle threads here take their share in the commit (no wake-up, no claim round trip),
    // and start once Redis acknowledged it: never a job the cluster does not know.
    const { local } = this.deps;
    const reserved = local ? await local.reserve() : 0;
    const mine = reserved > 0 ? firstServed(jobs, reserved, local!.queues) : [];
    let submitted: SubmittedBatch;
    try {
      submitted = await store.submitBatch({
        batch,
        jobs,
        sources: Object.fromEntries(Object.entries(request.fns).map(([sha, fn]) => [sha, fn.source])),
        head: config.nodeName,
        submitId: request.submitId,
        ttlMs: config.jobTtlMs,
        localityWaitMs: facts ? localityWaitFor(request.calls.map(routedData), facts, config.localityWaitMs, config.localityCopyRate) : config.localityWaitMs,
        claimFor: mine.length > 0 ? { node: config.nodeName, ids: mine.map((job) => job.id) } : undefined,
      });
    } catch (error) {
      if (local && reserved > 0) local.adopt([], reserved);
      throw error;
    }
    if (submitted.kind === 'existing') {
      if (local && reserved > 0) local.adopt([], reserved);
      if (submitted.count !== jobs.length) {
        throw new KsError('conflict', `submitId ${request.submitId} was used for another submit (of ${submitted.count} calls, this one has ${jobs.length})`);
      }
      return { batch: submitted.batch, ids: Array.from({ length: submitted.count }, (_, i) => jobId(submitted.batch, i)) };
    }
    const { claimed } = submitted;
    if (local && reserved > 0) {
      const adopted = mine.filter((job) => claimed.has(job.id));
      const sources = adopted.length > 0 ? Object.fromEntries(Object.entries(request.fns).map(([sha, fn]) => [sha, fn.source])) : undefined;
      local.adopt(adopted.map((job) => claimedJob(job, config.nodeName)), reserved, sources);
    }

    const touched = new Set<string>();
    for (const job of jobs) if (!claimed.has(job.id)) for (const q of job.queues) touched.add(q);
    for (const q of touched) bus.publish(wakeSubject(bus, q), new Uint8Array(0));
    this.deps.metrics?.jobsSubmitted(request.calls);
    return { batch, ids };
  }

  private queuesFor(call: CallSpec, index: number, cluster: ClusterView): string[] | Promise<string[]> {
    const asked = call.queue ?? 'default';
    const pinned = parseHostQueue(asked);
    const env = call.options?.env;
    if (pinned) {
      const node = cluster.nodes.find((n) => n.name === pinned.node);
      if (!node) throw new KsError('no_route', `call ${index}: queue "${asked}" is pinned to node "${pinned.node}", which is not a live node`);
      if (!node.queues.includes(pinned.queue)) {
        throw new KsError('no_route', `call ${index}: node "${pinned.node}" does not serve queue "${pinned.queue}" (it serves ${node.queues.join(', ')})`);
      }
      if (env !== undefined && !node.envs?.includes(env)) throw new KsError('no_route', `call ${index}: node "${pinned.node}" does not have environment "${env}"`);
      return [asked];
    }
    if (cluster.nodesServing(asked).length === 0) {
      throw new KsError('no_route', `call ${index}: no live node serves queue "${asked}"`);
    }
    if (env !== undefined) return this.envQueues(call, index, asked, env, cluster);
    const routable: RoutableCall = {
      index,
      queue: asked,
      ...routedData(call),
      dataThreshold: call.options?.dataThreshold ?? DEFAULT_DATA_THRESHOLD,
      call,
    };
    return this.route(routable, cluster);
  }

  /**
   * A call needing a named environment goes only to host queues of live nodes that have it
   * (never to the shared queue, which any node may claim from), in the order route() gives
   * among them (locality), else all of them.
   */
  private async envQueues(call: CallSpec, index: number, queue: string, env: string, cluster: ClusterView): Promise<string[]> {
    const withEnv = cluster.nodesServing(queue).filter((n) => n.envs?.includes(env));
    if (withEnv.length === 0) throw new KsError('no_route', `call ${index}: no live node serving queue "${queue}" has environment "${env}"`);
    const names = new Set(withEnv.map((n) => n.name));
    const restricted: ClusterView = { ...cluster, nodesServing: (q) => cluster.nodesServing(q).filter((n) => names.has(n.name)) };
    const routable: RoutableCall = {
      index,
      queue,
      ...routedData(call),
      dataThreshold: call.options?.dataThreshold ?? DEFAULT_DATA_THRESHOLD,
      call,
    };
    const routed = (await this.route(routable, restricted)).filter((q) => {
      const host = parseHostQueue(q);
      return host !== undefined && host !== null && names.has(host.node);
    });
    return routed.length > 0 ? routed : withEnv.map((n) => hostQueue(queue, n.name));
  }

  private jobOptions(call: CallSpec, request: BulkCallRequest, cache: Map<string, Uint8Array | null>): Uint8Array | null {
    const name = call.registered ? call.fn : request.fns[call.fn]?.name ?? '';
    const output = call.options?.intermediateResults === false ? false : undefined;
    const timeoutMs = call.options?.timeoutMs;
    const each = call.options?.each === true;
    const env = call.options?.env;
    const policy = jobPolicy(call);
    const key = `${name}\0${output}\0${timeoutMs}\0${each}\0${env}\0${policy ? JSON.stringify(policy) : ''}`;
    let bytes = cache.get(key);
    if (bytes === undefined && output === undefined && !timeoutMs && !each && env === undefined && !policy && name === (call.registered ? call.fn : '')) {
      // The options a job has without any (job-intake.ts): not stored, a waiting job is smaller.
      bytes = null;
      cache.set(key, bytes);
    }
    if (bytes === undefined) {
      const options: JobOptions = { name };
      if (output === false) options.output = false;
      if (timeoutMs) options.timeoutMs = timeoutMs;
      if (each) options.each = true;
      if (env !== undefined) options.env = env;
      if (policy) options.policy = policy;
      bytes = encode(options);
      cache.set(key, bytes);
    }
    return bytes;
  }

  /** Every shipped function must be present, hash to its key, and compile. */
  private checkFunctions(request: BulkCallRequest): void {
    for (const [sha, fn] of Object.entries(request.fns)) this.checked.check(sha, fn);
    request.calls.forEach((call, index) => {
      if (!call.registered && !request.fns[call.fn]) {
        throw new KsError('bad_request', `call ${index}: function ${call.fn} is neither shipped with the request nor registered`);
      }
    });
  }

  private checkRegisteredNames(calls: CallSpec[], nodes: NodeInfo[]): void {
    const known = new Set(nodes.flatMap((n) => n.functions));
    for (let index = 0; index < calls.length; index++) {
      const call = calls[index];
      if (call.registered && !known.has(call.fn)) throw unknownFunction(call.fn, known, 'the live nodes', `call ${index}: `);
    }
  }
}

function holdsUnknownNode(facts: DataFacts, urls: ReadonlySet<string>, nodes: readonly NodeInfo[]): boolean {
  const known = new Set(nodes.map((n) => n.name));
  for (const url of urls) for (const holder of facts.holders(url)) if (!known.has(holder)) return true;
  return false;
}

function everyQueueServed(calls: readonly CallSpec[], nodes: readonly NodeInfo[]): boolean {
  const served = new Set(nodes.flatMap((n) => [...n.queues, ...n.queues.map((q) => hostQueue(q, n.name))]));
  return calls.every((call) => served.has(call.queue ?? 'default'));
}

/** What the executor needs of a call's policies (priority and delay live in the queue's score). */
function jobPolicy(call: CallSpec): JobOptions['policy'] | undefined {
  const o = call.options;
  if (!o || (o.retries === undefined && o.resultTtlMs === undefined)) return undefined;
  const policy: NonNullable<JobOptions['policy']> = {};
  if (o.retries) {
    policy.retries = o.retries;
    if (o.retryDelayMs !== undefined) policy.retryDelayMs = o.retryDelayMs;
    if (o.retryBackoff !== undefined) policy.retryBackoff = o.retryBackoff;
    if (o.retryOn !== undefined) policy.retryOn = o.retryOn;
  }
  if (o.resultTtlMs !== undefined) policy.resultTtlMs = o.resultTtlMs;
  return Object.keys(policy).length > 0 ? policy : undefined;
}

/**
 * The first `max` jobs whose first-choice queue `queues` holds: what idle local threads claim
 * at once; never a delayed job (claimable later).
 */
function firstServed(jobs: readonly JobToEnqueue[], max: number, queues: readonly string[]): JobToEnqueue[] {
  const served = new Set(queues);
  const out: JobToEnqueue[] = [];
  for (const job of jobs) {
    if (out.length >= max) break;
    if (served.has(job.queues[0]) && !job.delayMs) out.push(job);
  }
  return out;
}

function claimedJob(job: JobToEnqueue, node: string): ClaimedJob {
  return {
    id: job.id,
    fn: job.fn,
    kind: job.registered ? 'registered' : 'shipped',
    args: job.args,
    opts: job.opts,
    attempts: 0,
    queue: job.queues[0],
    head: node,
  };
}

export { clusterView, hostQueue, localityRouter };
export type { ClusterView, DataFacts, RoutableCall, Router };

/** The data urls routing looks at for a call (none with `noRouteData`). */
function routedData(call: CallSpec): { dataUrls: string[] } {
  return { dataUrls: call.options?.noRouteData ? [] : call.dataUrls ?? [] };
}
