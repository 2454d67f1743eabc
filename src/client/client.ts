import { randomBytes } from 'node:crypto';
import { encode } from '../codec.js';
import { KsError, RemoteError, remoteErrorFor } from '../errors.js';
import type { BulkCallRequest, BulkCallResponse, CallSpec, JobEvent, NodeInfo, ResultsEvent, ShippedFunction } from '../protocol.js';
import { taskDataBackend, type DataBackend, type MemoryChange } from '../data-backend.js';
import type { DataInfoReport, ImportReport, MemoryStats } from '../data-protocol.js';
import { dataUrlsOf, decodeWithOrigin } from '../remote-data.js';
import type { ArgsOf, Fn, ItemOf, NameOf, ResultOf, WithFutures } from './call-types.js';
import { DataHttp } from './data-http.js';
import { httpDataBackend, setDefaultDataOrigin } from './data-origin.js';
import { functionRef, type Callable } from './function-ref.js';
import { outputHandler, type OutputHandler, type OutputMode } from './output.js';
import { NodeUnreachableError, Transport } from './transport.js';
import { trackBatch, type BatchProgress, type BatchProgressTracker } from './batch-progress.js';
import { jobFilterQuery, type JobFilter, type JobHistoryEntry, type LiveJob } from '../job-history.js';
import { Future } from './future.js';
import { FutureHub, futureInputs, resolveInputs, type Outcome } from './future-hub.js';
import { asCompleted, gather, wait, type GatherOptions, type WaitOptions, type WaitResult } from './future-sets.js';
import { policyOptions, type JobPolicy } from './job-policy.js';

export interface ClientOptions {
  /** sent as `Authorization: Bearer <token>` (nodes started with --token) */
  token?: string;
  /** default per-call data threshold for locality routing, bytes */
  dataThreshold?: number;
  /** where remote output goes; default `raw` */
  output?: OutputMode;
  /**
   * ms to wait for a node: to connect, for an answer's headers, and for the next frame of a
   * result stream (nodes send keep-alive frames, so a long job never runs into it); never a
   * stream's total length. Default 30000; 0 or Infinity: wait forever.
   */
  requestTimeoutMs?: number;
  /** PEM of the CA that signed the nodes' certificates (https urls); default: the system's CAs */
  ca?: string | Buffer;
  /**
   * false: never draw the progress bar of `br()`/`map()` (drawn on stderr when it is a
   * terminal, the output is not `silent` and the batch runs over a second). Default true.
   */
  progress?: boolean;
  /** called as the jobs of a `br()`/`map()` batch settle (first with done 0), terminal or not */
  onProgress?: (progress: BatchProgress) => void;
}

/** `requestTimeoutMs` when none is given. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface CallOptions extends JobPolicy {
  /** a queue name, or a host queue `<queue>|<node>` to pin the call to a node */
  queue?: string;
  /** false: do not forward this call's output */
  intermediateResults?: boolean;
  /** skip data-locality routing */
  noRouteData?: boolean;
  dataThreshold?: number;
  /** the job fails (and its thread is stopped) after this many ms */
  timeoutMs?: number;
  /** run on a node offering this named environment (`ks start --env NAME=DIR`); its packages are what the task imports */
  env?: string;
}

export interface SingleCallOptions extends CallOptions {
  /** false: run now on the head node's pool, without the queue */
  async?: boolean;
}

export interface MapOptions extends CallOptions {
  /** items per job: each job runs fn on its items in turn (default 1, one job per item) */
  chunkSize?: number;
}

export interface NodeStatusInfo {
  name: string;
  url: string;
  queues: string[];
  readOnly: boolean;
  executor: { threads: number; busy: number; active: number; capacity: number; completed: number };
  /** urls the node holds and their bytes (the catalog's count), and copies it received from peers */
  data: {
    urls: number;
    bytes: number;
    received: { copies: number; bytes: number };
    relayed: { reads: number; bytes: number };
    /** the node's memory tier (`--memory-cache`): its budget, what it counts, the urls it holds */
    memory?: MemoryStats;
  };
}

interface RecordedCall {
  fn: Callable;
  args: unknown[];
  /** each: a chunk of map(), args [items, index of the first] */
  options: CallOptions & { each?: boolean };
}

interface PendingBatch {
  batch: string;
  ids: string[];
}


/**
 * Talks to one node at a time (the head: the first url, then the next one that answers when
 * the head stops answering). Calls are recorded with `bc`, sent together by `execute` (one
 * request, each distinct function's source once), and collected in call order by `br`,
 * which prints remote output as it arrives and throws the first remote failure. With several
 * urls, a head that dies mid-`execute`/`br`/`call` is left for the next url: the submit is
 * resent (same `submitId`) and the batch re-attached by id; no result is delivered twice.
 */
export class Client<M extends object = Record<never, never>> {
  /** every node url given, in order of preference */
  readonly urls: readonly string[];
  readonly options: ClientOptions;
  private readonly transports: Transport[];
  private head = 0;
  private readonly onOutput: OutputHandler;
  private recorded: RecordedCall[] = [];
  private pending: PendingBatch[] = [];
  private readonly outstanding = new Set<string>();
  private readonly data: DataBackend;
  private readonly futures: FutureHub<RecordedCall>;

  constructor(urls: string | readonly string[], options: ClientOptions = {}) {
    const list = typeof urls === 'string' ? [urls] : [...urls];
    if (list.length === 0) throw new KsError('bad_request', 'new Client() needs at least one node url');
    this.urls = list.map((url) => (url.endsWith('/') ? url : `${url}/`));
    this.options = options;
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.transports = this.urls.map((url) => new Transport(url, options.token, { requestTimeoutMs, ca: options.ca }));
    this.onOutput = outputHandler(options.output ?? 'raw');
    // Inside a task, a client of the task's own node reaches the data through its DataHolder.
    const inTask = taskDataBackend();
    this.data = inTask && inTask.nodeUrl === this.urls[0] ? inTask : new DataHttp(() => this.transport);
    this.futures = new FutureHub<RecordedCall>({
      submit: (calls) => this.submitRequest(calls),
      collect: (batch, ids, onOutcome) => this.collectOutcomes(batch, ids, onOutcome),
      cancel: (id) => this.cancel(id),
      status: (id) => this.status(id),
    });
  }

  /** The url of the node this client talks to now (the first url until it fails). */
  get url(): string {
    return this.urls[this.head];
  }

  private get transport(): Transport {
    return this.transports[this.head];
  }

  /** Records a call; nothing is sent until `execute()`. Returns the call's index in the next batch. */
  bc<F extends Fn | NameOf<M>>(fn: F, ...args: WithFutures<ArgsOf<F, M>>): number {
    return this.bcWith({}, fn, ...args);
  }

  bulkCall<F extends Fn | NameOf<M>>(fn: F, ...args: WithFutures<ArgsOf<F, M>>): number {
    return this.bcWith({}, fn, ...args);
  }

  bcWith<F extends Fn | NameOf<M>>(options: CallOptions, fn: F, ...args: WithFutures<ArgsOf<F, M>>): number {
    functionRef(fn); // fails now, at the call site, for what cannot be shipped
    policyOptions(options);
    this.recorded.push({ fn, args: args as unknown[], options });
    return this.recorded.length - 1;
  }

  /**
   * Submits one call and returns its Future (docs/futures.md). Submits made in the same tick
   * go out together as one all-or-nothing submit. A future among the arguments (top level,
   * or one level inside an array or object) is an input: the job is submitted with its value.
   */
  submit<F extends Fn | NameOf<M>>(fn: F, ...args: WithFutures<ArgsOf<F, M>>): Future<ResultOf<F, M>> {
    return this.submitWith({}, fn, ...args);
  }

  /** `submit` with per-call options: queue, env, timeoutMs and the job policies (priority, delayMs, retries...). */
  submitWith<F extends Fn | NameOf<M>>(options: CallOptions, fn: F, ...args: WithFutures<ArgsOf<F, M>>): Future<ResultOf<F, M>> {
    functionRef(fn);
    policyOptions(options);
    return this.futures.submit<ResultOf<F, M>>({ fn, args: args as unknown[], options });
  }

  /** A future for a job submitted earlier, by this or any client, through any node. */
  future<T = unknown>(jobId: string): Future<T> {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new KsError('bad_request', `future(): a job id is a non-empty string, not ${String(jobId)}`);
    return this.futures.reattach<T>(jobId);
  }

  /** The futures in the order they finish. */
  asCompleted<F extends Future<unknown>>(futures: Iterable<F>): AsyncIterableIterator<F> {
    return asCompleted(futures);
  }

  /** `{ done, pending }` once the first (or every) future is done, or after `timeoutMs`. */
  wait<F extends Future<unknown>>(futures: Iterable<F>, options?: WaitOptions): Promise<WaitResult<F>> {
    return wait(futures, options);
  }

  /** Every result in order (a typed tuple); `{ errors: 'settle' }` gives every outcome instead of throwing. */
  gather: typeof gather = (futures: readonly Future<unknown>[], options?: GatherOptions) => gather(futures, options) as never;

  /**
   * Sends every recorded call; returns their job ids. Up to SUBMIT_CALLS calls go in one
   * request; more are sent as several batches, one after the other (never one huge body).
   */
  async execute(): Promise<string[]> {
    const calls = this.recorded;
    this.recorded = [];
    const ids: string[] = [];
    await resolveFutureArgs(calls);
    for (const slice of slicesOf(calls)) {
      const batch = await this.submitCalls(slice);
      this.pending.push(batch);
      for (const id of batch.ids) ids.push(id);
    }
    return ids;
  }

  /** One all-or-nothing submit (architecture §3), on any node; the futures' path too. */
  private async submitRequest(calls: RecordedCall[]): Promise<BulkCallResponse> {
    const request = this.buildRequest(calls);
    // Resent as it is (same submitId) to the next node when a node does not answer: a node
    // that knows the submitId answers the same ids without enqueueing again.
    request.submitId = newSubmitId();
    return this.onAnyNode((t) => t.requestCbor<BulkCallResponse>('POST', 'rpc/bulkcall', request));
  }

  /** Every outcome of `ids`: of one batch (its event stream), or of several (`/rpc/results`). */
  private collectOutcomes(batch: string | undefined, ids: string[], onOutcome: (id: string, outcome: Outcome) => void): Promise<void> {
    const open = batch === undefined
      ? (t: Transport, waiting: string[]) => t.stream<ResultsEvent[]>('rpc/results', { ids: waiting })
      : (t: Transport, waiting: string[]) => t.stream<ResultsEvent[]>('rpc/bulkstatus', { batch, ids: waiting });
    return this.collect(ids, open, (id, value) => onOutcome(id, { ok: true, value }), (id, error) => onOutcome(id, { ok: false, error }));
  }

  /** Submits `calls` as one batch (submitRequest); their ids count as outstanding until delivered. */
  private async submitCalls(calls: RecordedCall[]): Promise<PendingBatch> {
    const response = await this.submitRequest(calls);
    for (const id of response.ids) this.outstanding.add(id);
    return { batch: response.batch, ids: response.ids };
  }

  /** Results of every executed and recorded call, in call order. The first failure cancels the rest and throws a RemoteError. */
  async br(): Promise<unknown[]> {
    const calls = this.recorded;
    this.recorded = [];
    await resolveFutureArgs(calls);
    const earlier = this.pending;
    this.pending = [];
    const results: unknown[] = [];
    const total = earlier.reduce((n, b) => n + b.ids.length, 0) + calls.length;
    const progress = this.trackProgress(total);
    try {
      for (const pending of earlier) {
        const offset = results.length;
        results.length += pending.ids.length;
        await this.collectBatch(pending, (i, value) => {
          results[offset + i] = value;
        }, progress);
      }
      const offset = results.length;
      results.length += calls.length;
      await this.streamCalls(slicesOf(calls), (i, value) => {
        results[offset + i] = value;
      }, progress);
    } catch (error) {
      if (error instanceof RemoteError) await this.cancelOutstanding(earlier);
      throw error;
    } finally {
      progress.finish();
      for (const { ids } of earlier) for (const id of ids) this.outstanding.delete(id);
    }
    return results;
  }

  /** The outcomes of one submitted batch: `deliver(index in the batch, value)`. */
  private async collectBatch({ batch, ids }: PendingBatch, deliver: (index: number, value: unknown) => void, progress?: BatchProgressTracker): Promise<void> {
    const index = new Map(ids.map((id, i) => [id, i]));
    await this.collect(ids, (t, waiting) => t.stream<JobEvent[]>('rpc/bulkstatus', { batch, ids: waiting }), (id, value) => {
      deliver(index.get(id)!, value);
    }, undefined, progress);
  }

  /**
   * Submits the slices one batch after another while collecting them in order, keeping
   * SUBMIT_AHEAD batches submitted beyond the one being collected: the node always has work
   * queued, and neither side ever holds more than a few batches (a million calls never make
   * one body, one tracker or one Redis burst). `deliver(index among all calls, value)`.
   * On any failure nothing more is submitted, and the batches submitted and not collected are
   * cancelled (a RemoteError first cancels the rest of its own batch too).
   */
  private async streamCalls(slices: Iterator<RecordedCall[]>, deliver: (index: number, value: unknown) => void, progress?: BatchProgressTracker): Promise<void> {
    const submitted: Array<Promise<PendingBatch & { offset: number }>> = [];
    let offset = 0;
    let previous: Promise<unknown> = Promise.resolve();
    let stopped = false;
    const submitNext = (): void => {
      if (stopped) return;
      const next = slices.next();
      if (next.done) return;
      const at = offset;
      offset += next.value.length;
      // Batches are submitted in order (their ids, hence their jobs, sort in call order).
      const batch = previous.then(() => this.submitCalls(next.value)).then((b) => ({ ...b, offset: at }));
      batch.catch(() => undefined); // awaited below; a failure behind another failure is dropped
      previous = batch;
      submitted.push(batch);
    };
    for (let i = 0; i <= SUBMIT_AHEAD; i++) submitNext();
    // Only the batch being collected and those submitted ahead are kept: a million ids never are.
    let current: PendingBatch | undefined;
    try {
      while (submitted.length > 0) {
        current = await submitted.shift()!;
        const { offset: first } = current as PendingBatch & { offset: number };
        submitNext();
        await this.collectBatch(current, (i, value) => deliver(first + i, value), progress);
        for (const id of current.ids) this.outstanding.delete(id);
        current = undefined;
      }
    } catch (error) {
      stopped = true;
      const rest = (await Promise.allSettled(submitted)).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const open = current ? [current, ...rest] : rest;
      await this.cancelOutstanding(open);
      for (const { ids } of open) for (const id of ids) this.outstanding.delete(id);
      throw error;
    }
  }

  /** Cancels the jobs of `batches` that were not delivered yet (best effort). */
  private async cancelOutstanding(batches: readonly PendingBatch[]): Promise<void> {
    const rest = batches.flatMap((b) => b.ids).filter((id) => this.outstanding.has(id));
    if (rest.length > 0) await this.bulkCancel(rest).catch(() => undefined);
  }

  /** The progress of a batch being collected: onProgress, and the bar unless turned off or silent. */
  private trackProgress(total: number): BatchProgressTracker {
    const draw = this.options.progress !== false && this.options.output !== 'silent';
    return trackBatch(total, { draw, onProgress: this.options.onProgress });
  }

  bulkResults(): Promise<unknown[]> {
    return this.br();
  }

  /** One call through the queue (one request that submits and waits). */
  async call<F extends Fn | NameOf<M>>(fn: F, ...args: WithFutures<ArgsOf<F, M>>): Promise<ResultOf<F, M>> {
    return this.callWith({}, fn, ...args);
  }

  /** `callWith({ async: false }, fn, ...)` runs at once on the head node's pool, with no queue. */
  async callWith<F extends Fn | NameOf<M>>(options: SingleCallOptions, fn: F, ...args: WithFutures<ArgsOf<F, M>>): Promise<ResultOf<F, M>> {
    const { async: queued = true, ...callOptions } = options;
    const ref = functionRef(fn);
    policyOptions(callOptions);
    const request = this.buildRequest([{ fn, args: await resolveInputs(args as unknown[]), options: callOptions }]);
    request.submitId = newSubmitId();
    const route = `rpc/call/${encodeURIComponent(ref.name || 'anonymous')}${queued ? '' : '?async=false'}`;
    // The stream's first frame names the job; once it is known, another node can follow it.
    let submitted: BulkCallResponse | undefined;
    let result: unknown;
    const delivered = new Set<string>();
    const onResult = (_id: string, value: unknown) => {
      result = value;
    };
    await this.onAnyNode(async (t) => {
      if (submitted) {
        await this.consume(t, t.stream<JobEvent[]>('rpc/bulkstatus', submitted), onResult, submitted.ids, delivered);
        return;
      }
      const frames = t.stream<unknown>(route, request);
      const first = await frames.next();
      if (first.done) throw new NodeUnreachableError('unavailable', `the kitchensink node at ${t.baseUrl} closed the call stream before answering`, t.baseUrl, true);
      submitted = first.value as BulkCallResponse;
      await this.consume(t, frames as AsyncGenerator<JobEvent[]>, onResult, submitted.ids, delivered);
    }, {
      // A direct call lives only in its node's memory: resent only when it never got there.
      canFailOver: (error) => queued || (!submitted && !error.reached),
      progress: () => delivered.size,
    });
    return result as ResultOf<F, M>;
  }

  /**
   * fn on every item, results in item order. With `chunkSize`, items go `chunkSize` to a job
   * (fewer, larger jobs: far less overhead per item for short tasks); a failure's message
   * then starts with `map item <index>:`.
   */
  async map<F extends Fn | NameOf<M>>(fn: F, items: Iterable<ItemOf<F, M>>, options: MapOptions = {}): Promise<ResultOf<F, M>[]> {
    if (this.recorded.length > 0 || this.pending.length > 0) {
      throw new KsError('bad_request', 'map() needs a client with no recorded or uncollected calls; call br() first');
    }
    const { chunkSize, ...callOptions } = options;
    if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 1)) throw new KsError('bad_request', `chunkSize must be a positive integer, not ${chunkSize}`);
    functionRef(fn); // fails now, at the call site, for what cannot be shipped
    const all: readonly ItemOf<F, M>[] = Array.isArray(items) ? items : [...items];
    const results = new Array<ResultOf<F, M>>(all.length);
    const progress = this.trackProgress(chunkSize === undefined ? all.length : Math.ceil(all.length / chunkSize));
    try {
      if (chunkSize === undefined) {
        // Calls are made a slice at a time: a million items never become a million recorded calls.
        await this.streamCalls(mapSlices(all, 1, (first) => ({ fn, args: [all[first]], options: callOptions })), (i, value) => {
          results[i] = value as ResultOf<F, M>;
        }, progress);
      } else {
        await this.streamCalls(mapSlices(all, chunkSize, (first) => ({ fn, args: [all.slice(first, first + chunkSize), first], options: { ...callOptions, each: true } })), (i, value) => {
          const chunk = value as ResultOf<F, M>[];
          for (let j = 0; j < chunk.length; j++) results[i * chunkSize + j] = chunk[j];
        }, progress);
      }
    } finally {
      progress.finish();
    }
    return results;
  }

  async cancel(id: string): Promise<void> {
    await this.onAnyNode((t) => t.requestCbor('POST', `rpc/cancel/${encodeURIComponent(id)}`));
  }

  async bulkCancel(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.onAnyNode((t) => t.requestCbor('POST', 'rpc/bulkcancel', { ids }));
  }

  /**
   * The outcomes of earlier jobs that were not delivered yet, of any batches and executed by
   * any client (another process too), fetched from any node, in the order of `ids`. Every
   * outcome is read first (each is delivered once: read here, it is gone from the cluster);
   * then the first failure in `ids` order is thrown, as `br()` does: a `RemoteError` for a
   * failed job, a KsError `not_found` for an id the cluster does not hold (never submitted,
   * delivered already, or expired). `settledResults` gives every outcome instead.
   */
  async results(ids: readonly string[]): Promise<unknown[]> {
    const settled = await this.settledResults(ids);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }

  /** Like `results`, but every outcome, in the order of `ids`, as `Promise.allSettled` shapes them. */
  async settledResults(ids: readonly string[]): Promise<PromiseSettledResult<unknown>[]> {
    if (ids.length === 0) return [];
    const index = new Map<string, number>();
    ids.forEach((id, i) => {
      if (typeof id !== 'string' || id.length === 0) throw new KsError('bad_request', `results(): job ids are non-empty strings, not ${String(id)}`);
      if (index.has(id)) throw new KsError('bad_request', `results(): job ${id} is asked for twice`);
      index.set(id, i);
    });
    const out = new Array<PromiseSettledResult<unknown>>(ids.length);
    await this.collect(ids, (t, waiting) => t.stream<ResultsEvent[]>('rpc/results', { ids: waiting }), (id, value) => {
      out[index.get(id)!] = { status: 'fulfilled', value };
    }, (id, reason) => {
      out[index.get(id)!] = { status: 'rejected', reason };
    });
    return out;
  }

  /** Cancels every call this client executed and has not collected. */
  async cancelAll(): Promise<void> {
    this.recorded = [];
    await this.bulkCancel([...this.outstanding]);
  }

  /** Finished jobs from the cluster's job history, newest first (docs/dashboard.md#job-history). */
  async jobs(filter: JobFilter = {}): Promise<JobHistoryEntry[]> {
    const { jobs } = await this.onAnyNode((t) => t.requestCbor<{ jobs: JobHistoryEntry[] }>('GET', `rpc/jobs${jobFilterQuery(filter)}`));
    return jobs;
  }

  /** One job: its history entry once it finished; while it runs, its output so far. */
  async job(id: string): Promise<JobHistoryEntry | LiveJob> {
    return this.onAnyNode((t) => t.requestCbor('GET', `rpc/job/${encodeURIComponent(id)}`));
  }

  /** Cancels every queued and running job of the cluster (`ks cancel --all`); returns their ids. */
  async cancelEveryJob(): Promise<string[]> {
    const { cancelled } = await this.onAnyNode((t) => t.requestCbor<{ cancelled: string[] }>('POST', 'rpc/cancel-all'));
    return cancelled;
  }

  async ping(): Promise<{ ok: boolean; node: string; url: string; version: string }> {
    return this.onAnyNode((t) => t.requestCbor('GET', 'rpc/ping'));
  }

  async hosts(): Promise<NodeInfo[]> {
    const { nodes } = await this.onAnyNode((t) => t.requestCbor<{ nodes: NodeInfo[] }>('GET', 'rpc/hosts'));
    return nodes;
  }

  /** Waiting jobs per queue, cluster-wide. */
  async queueLengths(): Promise<Record<string, number>> {
    const { queues } = await this.onAnyNode((t) => t.requestCbor<{ queues: Record<string, number> }>('GET', 'rpc/queues'));
    return queues;
  }

  /** The head node's own status: its executor's threads and load. */
  async nodeStatus(): Promise<NodeStatusInfo> {
    return this.transport.requestCbor('GET', 'rpc/node');
  }

  /** The live hosts, and per url its state, holders and catalog record (size, sha256, fmt, created). */
  async dataInfo(urls: string[]): Promise<DataInfoReport> {
    return this.data.info(urls);
  }

  /** Saved data urls matching a glob (`data/*.csv`, `logs/**`). */
  async pathSearch(glob: string): Promise<string[]> {
    return this.data.search(glob);
  }

  /** Removes the copy on `host`, or every copy; returns the hosts whose copy was removed. */
  async deleteData(url: string, options: { host?: string } = {}): Promise<string[]> {
    return this.data.delete(url, options.host);
  }

  /** Keeps `keep` copies (default 1) of each url, removing the others; returns the removed hosts per url. */
  async reduceData(urls: string[], options: { keep?: number } = {}): Promise<Record<string, string[]>> {
    return this.data.reduce(urls, options.keep ?? 1);
  }

  /** sha256 of every copy of a url, by host, each computed by its holder from its disk. */
  async checksums(url: string): Promise<Record<string, string | null>> {
    return this.data.checksums(url);
  }

  /** Pins urls in memory on their holders (with `nodes`: on those nodes, copied there first); see RemoteData.load(). */
  async load(urls: string[], options: { nodes?: string[] } = {}): Promise<MemoryChange> {
    return this.data.load(urls, options.nodes);
  }

  /** Unpins urls (on `nodes`, or on every live node). */
  async unload(urls: string[], options: { nodes?: string[] } = {}): Promise<MemoryChange> {
    return this.data.unload(urls, options.nodes);
  }

  /**
   * Makes the node at `node` (its url) register files already in its data directory (`paths`
   * relative to it, under `prefix`), as if they had been saved; a url the catalog has with
   * other data is a `conflict` (409) and is not overwritten.
   */
  async importData(paths: string[], options: { node: string; prefix?: string; fmt?: string }): Promise<ImportReport> {
    const { node, ...rest } = options;
    return httpDataBackend({ url: node, token: this.options.token, ca: this.options.ca }).importData(paths, rest);
  }

  async status(id: string): Promise<Record<string, unknown>> {
    return this.onAnyNode((t) => t.requestCbor('GET', `rpc/status/${encodeURIComponent(id)}`));
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }

  /**
   * Runs `op` on the head; when the head does not answer (NodeUnreachableError) and other
   * urls were given, makes the next url the head and runs `op` there. Gives up when every
   * url failed in a row without `progress` (results delivered) in between.
   */
  private async onAnyNode<T>(op: (transport: Transport) => Promise<T>, options: { canFailOver?: (error: NodeUnreachableError) => boolean; progress?: () => number } = {}): Promise<T> {
    const failures: NodeUnreachableError[] = [];
    let progressSeen = options.progress?.() ?? 0;
    for (;;) {
      const transport = this.transport;
      try {
        return await op(transport);
      } catch (error) {
        if (!(error instanceof NodeUnreachableError) || this.urls.length === 1) throw error;
        if (options.canFailOver && !options.canFailOver(error)) throw error;
        const progress = options.progress?.() ?? 0;
        if (progress > progressSeen) {
          progressSeen = progress;
          failures.length = 0;
        }
        failures.push(error);
        if (failures.length >= this.urls.length) {
          const last = failures[failures.length - 1];
          throw new NodeUnreachableError(last.code as 'timeout' | 'unavailable', `no kitchensink node answered: ${failures.map((f) => f.message).join('; ')}`, last.node, last.reached, last);
        }
        // Another operation may have moved on from this node already.
        if (this.transport === transport) this.head = (this.head + 1) % this.urls.length;
      }
    }
  }

  /**
   * Collects the outcomes of `ids` from the stream `open` asks a node for (with the ids still
   * waiting), from the next node when one stops answering. An id is delivered once: events
   * for an id already delivered (a node that resent it) are skipped. Without `onFailure`, the
   * first failure is thrown.
   */
  private async collect(
    ids: readonly string[],
    open: (transport: Transport, waiting: string[]) => AsyncGenerator<ResultsEvent[]>,
    onResult: (id: string, value: unknown) => void,
    onFailure?: (id: string, error: Error) => void,
    progress?: BatchProgressTracker,
  ): Promise<void> {
    const delivered = new Set<string>();
    await this.onAnyNode(async (t) => {
      const waiting = ids.filter((id) => !delivered.has(id));
      if (waiting.length > 0) await this.consume(t, open(t, waiting), onResult, waiting, delivered, onFailure, progress);
    }, { progress: () => delivered.size });
  }

  private buildRequest(calls: RecordedCall[]): BulkCallRequest {
    const fns: Record<string, ShippedFunction> = {};
    const specs: CallSpec[] = calls.map(({ fn, args, options }) => {
      const ref = functionRef(fn);
      if (!ref.registered) fns[ref.key] ??= { name: ref.name, source: ref.source };
      const spec: CallSpec = { fn: ref.key, args: encode(args) };
      if (ref.registered) spec.registered = true;
      if (options.queue) spec.queue = options.queue;
      // A chunk's items are each one call's argument: their data routes the chunk.
      const urls = options.each ? dataUrlsOf(args[0] as unknown[]) : dataUrlsOf(args);
      if (urls.length > 0) spec.dataUrls = urls;
      const wire: NonNullable<CallSpec['options']> = {};
      if (options.intermediateResults === false) wire.intermediateResults = false;
      if (options.timeoutMs !== undefined) wire.timeoutMs = options.timeoutMs;
      if (options.noRouteData) wire.noRouteData = true;
      if (options.each) wire.each = true;
      if (options.env) wire.env = options.env;
      Object.assign(wire, policyOptions(options));
      const threshold = options.dataThreshold ?? this.options.dataThreshold;
      if (threshold !== undefined) wire.dataThreshold = threshold;
      if (Object.keys(wire).length > 0) spec.options = wire;
      return spec;
    });
    return { fns, calls: specs };
  }

  /**
   * Reads event frames until every id of `waiting` has an outcome; output goes to the output
   * handler. Ids in `delivered` are never delivered again; a stream that ends early is the
   * node's failure (NodeUnreachableError), so the caller can go on elsewhere.
   */
  private async consume(
    transport: Transport,
    frames: AsyncGenerator<ResultsEvent[]>,
    onResult: (id: string, value: unknown) => void,
    waiting: readonly string[],
    delivered: Set<string>,
    onFailure?: (id: string, error: Error) => void,
    progress?: BatchProgressTracker,
  ): Promise<void> {
    const origin = { url: transport.baseUrl, token: this.options.token, ca: this.options.ca };
    let settled = 0;
    const fail = (id: string, error: Error) => {
      if (!onFailure) throw error;
      onFailure(id, error);
    };
    for await (const events of frames) {
      for (const event of events) {
        if (delivered.has(event.id)) continue;
        if (event.type === 'output') {
          const output = { jobId: event.id, stream: event.stream, text: event.text };
          if (progress) progress.aboveBar(event.text, () => this.onOutput(output));
          else this.onOutput(output);
          continue;
        }
        delivered.add(event.id);
        this.outstanding.delete(event.id);
        settled++;
        progress?.settled(event.type === 'done');
        switch (event.type) {
          case 'done':
            onResult(event.id, decodeWithOrigin(event.result, origin));
            break;
          case 'failed':
            fail(event.id, remoteErrorFor(event.id, event.error));
            break;
          case 'missing':
            fail(event.id, new KsError('not_found', event.message));
            break;
        }
      }
    }
    if (settled < waiting.length) {
      throw new NodeUnreachableError('unavailable', `the kitchensink node at ${transport.baseUrl} ended the result stream after ${settled} of ${waiting.length} results`, transport.baseUrl, true);
    }
  }
}

/**
 * Calls per submit request (one batch): larger `br()`s and `map()`s are streamed as several
 * batches. Large enough to amortise a request; small enough that a node takes one in well
 * under a heartbeat, and that a few of them bound what the node and Redis hold at once.
 */
export const SUBMIT_CALLS = 10_000;
/** Items of a chunked map() per submit, at most (with chunkSize, each call carries many). */
const SUBMIT_ITEMS = 100_000;
/** Batches submitted beyond the one being collected. */
const SUBMIT_AHEAD = 2;

/** `calls` in slices of at most SUBMIT_CALLS. */
function* slicesOf(calls: RecordedCall[]): Generator<RecordedCall[]> {
  if (calls.length <= SUBMIT_CALLS) {
    if (calls.length > 0) yield calls;
    return;
  }
  for (let first = 0; first < calls.length; first += SUBMIT_CALLS) yield calls.slice(first, first + SUBMIT_CALLS);
}

/** The calls of a map() over `count` items, `per` items a call, made one slice at a time. */
function* mapSlices(items: readonly unknown[], per: number, call: (first: number) => RecordedCall): Generator<RecordedCall[]> {
  const callsPerSlice = Math.max(1, Math.min(SUBMIT_CALLS, Math.floor(SUBMIT_ITEMS / per)));
  for (let first = 0; first < items.length;) {
    const slice: RecordedCall[] = [];
    for (; first < items.length && slice.length < callsPerSlice; first += per) slice.push(call(first));
    yield slice;
  }
}

/** A client-made id for one submit, sent again with a resent submit (16 random bytes, base64url). */
export function newSubmitId(): string {
  return randomBytes(16).toString('base64url');
}

let defaultClient: Client | undefined;

/** Sets the default client (as in the seed): `setupClient('http://localhost:6323/')`. */
export function setupClient(url: string | readonly string[], options: ClientOptions = {}): Client {
  defaultClient = new Client(url, options);
  setDefaultDataOrigin({ url: defaultClient.url, token: options.token, ca: options.ca });
  return defaultClient;
}

/** The default client; throws when `setupClient` has not been called. */
export function client(): Client {
  if (!defaultClient) throw new KsError('bad_request', 'no default client: call setupClient(url) first');
  return defaultClient;
}

/** Futures among recorded calls' arguments are replaced by their values (docs/futures.md). */
async function resolveFutureArgs(calls: RecordedCall[]): Promise<void> {
  for (const call of calls) if (futureInputs(call.args).length > 0) call.args = await resolveInputs(call.args);
}
