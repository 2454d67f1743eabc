import { encode } from '../codec.js';
import { KsError, RemoteError, remoteErrorFor } from '../errors.js';
import type { BulkCallRequest, BulkCallResponse, CallSpec, JobEvent, NodeInfo, ShippedFunction } from '../protocol.js';
import { taskDataBackend, type DataBackend } from '../data-backend.js';
import type { DataInfoReport } from '../data-protocol.js';
import { dataUrlsOf, decodeWithOrigin } from '../remote-data.js';
import { DataHttp } from './data-http.js';
import { setDefaultDataOrigin } from './data-origin.js';
import { functionRef, type Callable } from './function-ref.js';
import { outputHandler, type OutputHandler, type OutputMode } from './output.js';
import { Transport } from './transport.js';
import { jobFilterQuery, type JobFilter, type JobHistoryEntry, type LiveJob } from '../job-history.js';

export interface ClientOptions {
  /** sent as `Authorization: Bearer <token>` (nodes started with --token) */
  token?: string;
  /** default per-call data threshold for locality routing, bytes */
  dataThreshold?: number;
  /** where remote output goes; default `raw` */
  output?: OutputMode;
}

export interface CallOptions {
  /** a queue name, or a host queue `<queue>|<node>` to pin the call to a node */
  queue?: string;
  /** false: do not forward this call's output */
  intermediateResults?: boolean;
  /** skip data-locality routing */
  noRouteData?: boolean;
  dataThreshold?: number;
  /** the job fails (and its thread is stopped) after this many ms */
  timeoutMs?: number;
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
  data: { urls: number; bytes: number; received: { copies: number; bytes: number }; relayed: { reads: number; bytes: number } };
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

type Fn = (...args: never[]) => unknown;
/** A shipped function's parameters are checked at the call site; a registered name takes any arguments. */
type ArgsOf<F> = F extends Fn ? Parameters<F> : unknown[];
type ResultOf<F> = F extends Fn ? Awaited<ReturnType<F>> : unknown;
type ItemOf<F> = F extends (item: infer Item, ...rest: never[]) => unknown ? Item : unknown;

/**
 * Talks to one node (the head). Calls are recorded with `bc`, sent together by `execute`
 * (one request, each distinct function's source once), and collected in call order by `br`,
 * which prints remote output as it arrives and throws the first remote failure.
 */
export class Client {
  readonly url: string;
  readonly options: ClientOptions;
  private readonly transport: Transport;
  private readonly onOutput: OutputHandler;
  private recorded: RecordedCall[] = [];
  private pending: PendingBatch[] = [];
  private readonly outstanding = new Set<string>();
  private readonly data: DataBackend;

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.endsWith('/') ? url : `${url}/`;
    this.options = options;
    this.transport = new Transport(this.url, options.token);
    this.onOutput = outputHandler(options.output ?? 'raw');
    // Inside a task, a client of the task's own node reaches the data through its DataHolder.
    const inTask = taskDataBackend();
    this.data = inTask && inTask.nodeUrl === this.url ? inTask : new DataHttp(this.transport);
  }

  /** Records a call; nothing is sent until `execute()`. Returns the call's index in the next batch. */
  bc<F extends Fn | string>(fn: F, ...args: ArgsOf<F>): number {
    return this.bcWith({}, fn, ...args);
  }

  bulkCall<F extends Fn | string>(fn: F, ...args: ArgsOf<F>): number {
    return this.bcWith({}, fn, ...args);
  }

  bcWith<F extends Fn | string>(options: CallOptions, fn: F, ...args: ArgsOf<F>): number {
    functionRef(fn); // fails now, at the call site, for what cannot be shipped
    this.recorded.push({ fn, args, options });
    return this.recorded.length - 1;
  }

  /** Sends every recorded call in one request; returns their job ids. */
  async execute(): Promise<string[]> {
    const calls = this.recorded;
    this.recorded = [];
    if (calls.length === 0) return [];
    const response = await this.transport.requestCbor<BulkCallResponse>('POST', 'rpc/bulkcall', this.buildRequest(calls));
    this.pending.push({ batch: response.batch, ids: response.ids });
    for (const id of response.ids) this.outstanding.add(id);
    return response.ids;
  }

  /** Results of every executed call, in call order. The first failure cancels the rest and throws a RemoteError. */
  async br(): Promise<unknown[]> {
    if (this.recorded.length > 0) await this.execute();
    const batches = this.pending;
    this.pending = [];
    const results: unknown[] = [];
    try {
      for (const { batch, ids } of batches) {
        const offset = results.length;
        results.length += ids.length;
        const index = new Map(ids.map((id, i) => [id, offset + i]));
        const events = this.transport.stream<JobEvent[]>('rpc/bulkstatus', { batch, ids });
        await this.consume(events, (id, value) => {
          results[index.get(id)!] = value;
        }, ids.length);
      }
    } catch (error) {
      if (error instanceof RemoteError) {
        const rest = batches.flatMap((b) => b.ids).filter((id) => this.outstanding.has(id));
        if (rest.length > 0) await this.bulkCancel(rest).catch(() => undefined);
      }
      throw error;
    } finally {
      for (const { ids } of batches) for (const id of ids) this.outstanding.delete(id);
    }
    return results;
  }

  bulkResults(): Promise<unknown[]> {
    return this.br();
  }

  /** One call through the queue (one request that submits and waits). */
  async call<F extends Fn | string>(fn: F, ...args: ArgsOf<F>): Promise<ResultOf<F>> {
    return this.callWith({}, fn, ...args);
  }

  /** `callWith({ async: false }, fn, ...)` runs at once on the head node's pool, with no queue. */
  async callWith<F extends Fn | string>(options: SingleCallOptions, fn: F, ...args: ArgsOf<F>): Promise<ResultOf<F>> {
    const { async: queued = true, ...callOptions } = options;
    const ref = functionRef(fn);
    const request = this.buildRequest([{ fn, args, options: callOptions }]);
    const route = `rpc/call/${encodeURIComponent(ref.name || 'anonymous')}${queued ? '' : '?async=false'}`;
    const frames = this.transport.stream<unknown>(route, request);
    const first = await frames.next();
    if (first.done) throw new KsError('unavailable', 'the node closed the call stream before answering');
    let result: unknown;
    await this.consume(frames as AsyncGenerator<JobEvent[]>, (_id, value) => {
      result = value;
    }, 1);
    return result as ResultOf<F>;
  }

  /**
   * fn on every item, results in item order. With `chunkSize`, items go `chunkSize` to a job
   * (fewer, larger jobs: far less overhead per item for short tasks); a failure's message
   * then starts with `map item <index>:`.
   */
  async map<F extends Fn | string>(fn: F, items: Iterable<ItemOf<F>>, options: MapOptions = {}): Promise<ResultOf<F>[]> {
    if (this.recorded.length > 0 || this.pending.length > 0) {
      throw new KsError('bad_request', 'map() needs a client with no recorded or uncollected calls; call br() first');
    }
    const { chunkSize, ...callOptions } = options;
    if (chunkSize === undefined) {
      for (const item of items) this.bcWith(callOptions, fn as Fn | string, item);
      return (await this.br()) as ResultOf<F>[];
    }
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new KsError('bad_request', `chunkSize must be a positive integer, not ${chunkSize}`);
    functionRef(fn);
    const all = [...items];
    for (let first = 0; first < all.length; first += chunkSize) {
      this.recorded.push({ fn, args: [all.slice(first, first + chunkSize), first], options: { ...callOptions, each: true } });
    }
    return ((await this.br()) as ResultOf<F>[][]).flat(1) as ResultOf<F>[];
  }

  async cancel(id: string): Promise<void> {
    await this.transport.requestCbor('POST', `rpc/cancel/${encodeURIComponent(id)}`);
  }

  async bulkCancel(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.transport.requestCbor('POST', 'rpc/bulkcancel', { ids });
  }

  /** Cancels every call this client executed and has not collected. */
  async cancelAll(): Promise<void> {
    this.recorded = [];
    await this.bulkCancel([...this.outstanding]);
  }

  /** Finished jobs from the cluster's job history, newest first (docs/dashboard.md#job-history). */
  async jobs(filter: JobFilter = {}): Promise<JobHistoryEntry[]> {
    const { jobs } = await this.transport.requestCbor<{ jobs: JobHistoryEntry[] }>('GET', `rpc/jobs${jobFilterQuery(filter)}`);
    return jobs;
  }

  /** One job: its history entry once it finished; while it runs, its output so far. */
  async job(id: string): Promise<JobHistoryEntry | LiveJob> {
    return this.transport.requestCbor('GET', `rpc/job/${encodeURIComponent(id)}`);
  }

  /** Cancels every queued and running job of the cluster (`ks cancel --all`); returns their ids. */
  async cancelEveryJob(): Promise<string[]> {
    const { cancelled } = await this.transport.requestCbor<{ cancelled: string[] }>('POST', 'rpc/cancel-all');
    return cancelled;
  }

  async ping(): Promise<{ ok: boolean; node: string; url: string; version: string }> {
    return this.transport.requestCbor('GET', 'rpc/ping');
  }

  async hosts(): Promise<NodeInfo[]> {
    const { nodes } = await this.transport.requestCbor<{ nodes: NodeInfo[] }>('GET', 'rpc/hosts');
    return nodes;
  }

  /** Waiting jobs per queue, cluster-wide. */
  async queueLengths(): Promise<Record<string, number>> {
    const { queues } = await this.transport.requestCbor<{ queues: Record<string, number> }>('GET', 'rpc/queues');
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

  async status(id: string): Promise<Record<string, unknown>> {
    return this.transport.requestCbor('GET', `rpc/status/${encodeURIComponent(id)}`);
  }

  async close(): Promise<void> {
    await this.transport.close();
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
      const threshold = options.dataThreshold ?? this.options.dataThreshold;
      if (threshold !== undefined) wire.dataThreshold = threshold;
      if (Object.keys(wire).length > 0) spec.options = wire;
      return spec;
    });
    return { fns, calls: specs };
  }

  /** Reads event frames until `expected` jobs have an outcome; output goes to the output handler. */
  private async consume(frames: AsyncGenerator<JobEvent[]>, onResult: (id: string, value: unknown) => void, expected: number): Promise<void> {
    let settled = 0;
    for await (const events of frames) {
      for (const event of events) {
        switch (event.type) {
          case 'output':
            this.onOutput({ jobId: event.id, stream: event.stream, text: event.text });
            break;
          case 'done':
            settled++;
            this.outstanding.delete(event.id);
            onResult(event.id, decodeWithOrigin(event.result, { url: this.url, token: this.options.token }));
            break;
          case 'failed':
            this.outstanding.delete(event.id);
            throw remoteErrorFor(event.id, event.error);
        }
      }
    }
    if (settled < expected) {
      throw new KsError('unavailable', `the node ended the result stream after ${settled} of ${expected} results`);
    }
  }
}

let defaultClient: Client | undefined;

/** Sets the default client (as in the seed): `setupClient('http://localhost:6323/')`. */
export function setupClient(url: string, options: ClientOptions = {}): Client {
  defaultClient = new Client(url, options);
  setDefaultDataOrigin({ url: defaultClient.url, token: options.token });
  return defaultClient;
}

/** The default client; throws when `setupClient` has not been called. */
export function client(): Client {
  if (!defaultClient) throw new KsError('bad_request', 'no default client: call setupClient(url) first');
  return defaultClient;
}
