import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { decode, encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import { KsError, unknownFunction } from '../../src/errors.js';
import { encodeEventFrame, encodeFrame } from '../../src/frames.js';
import { CheckedSources } from '../../src/function-source.js';
import { jobId, newBatchId } from '../../src/ids.js';
import type { Logger } from '../../src/log.js';
import { bulkCallSchema, bulkStatusSchema, idListSchema, type BulkCallRequest, type JobEvent } from '../../src/protocol.js';
import type { Registry } from '../../src/registry.js';
import type { Store } from '../../src/store/store.js';
import type { Executor } from '../executor/executor.js';
import type { ResultSpill } from '../executor/result-spill.js';
import type { SchedulerActor } from '../scheduler/scheduler.js';
import type { BatchTracker, BatchTrackers, EventSink } from './batch-tracker.js';
import { sendError } from './http-errors.js';

export const CBOR = 'application/cbor';
export const EVENT_STREAM = 'application/x-ks-events';

export interface GatewayDeps {
  config: NodeConfig;
  store: Store;
  registry: Registry;
  scheduler: SchedulerActor;
  executor: Executor;
  trackers: BatchTrackers;
  log: Logger;
  version: string;
  /** the Node actor's own view: executor load, child services */
  nodeStatus: () => Promise<unknown>;
  spill: ResultSpill;
  /** extra routes (the DataHolder's) */
  extend?: (app: FastifyInstance) => void;
}

/** The node's HTTP API (DESIGN §8), translating requests into actor messages. */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const { config } = deps;
  const checked = new CheckedSources();
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger, // 500s are logged with their stack (http-errors.ts)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    forceCloseConnections: true,
    keepAliveTimeout: 60_000,
  });

  // Bodies are CBOR only: without fastify's JSON and text parsers, any other type is a 415.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(CBOR, { parseAs: 'buffer', bodyLimit: config.bodyLimit }, (_req, body, done) => {
    try {
      done(null, decode(body as Buffer));
    } catch (error) {
      done(new KsError('bad_request', `request body is not valid CBOR: ${(error as Error).message}`), undefined);
    }
  });
  app.setErrorHandler(sendError);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}`, code: 'not_found' });
  });

  if (config.token) {
    const expected = Buffer.from(`Bearer ${config.token}`);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public) return; // /healthz, /readyz, /metrics with --metrics-public
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new KsError('unauthorized', 'missing or wrong token: pass { token } to the Client (Authorization: Bearer <token>)');
      }
    });
  }

  app.get('/rpc/ping', async () => ({ ok: true, node: config.nodeName, url: config.nodeUrl, version: deps.version }));

  // What `ks start --join <this node>` needs to join this node's cluster.
  app.get('/rpc/cluster', async () => ({
    node: config.nodeName,
    redisUrl: config.redisUrl,
    natsUrl: config.natsUrl,
    prefix: config.prefix,
  }));

  app.get('/rpc/node', async () => deps.nodeStatus());

  // A large result this node kept on disk, taken by the head node of its job.
  app.get('/rpc/result/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const consume = (request.query as Record<string, string>).consume === 'true';
    void reply.type(CBOR).send(await deps.spill.read(id, consume));
  });

  // Waiting jobs per queue, for `ks status`: the queues ever pushed to are a set, no SCAN needed.
  app.get('/rpc/queues', async () => {
    const { redis, keys } = deps.store;
    const names = (await deps.store.queueNames()).sort();
    const lengths = await Promise.all(names.map((name) => redis.zcard(keys.queue(name))));
    return { queues: Object.fromEntries(names.map((name, i) => [name, lengths[i]] as const).filter(([, n]) => n > 0)) };
  });

  app.get('/rpc/hosts', async () => {
    const nodes = await deps.registry.liveNodes(0);
    return { nodes };
  });

  app.post('/rpc/bulkcall', async (request, reply) => {
    const body = parseBulkCall(request.body);
    const { batch, ids } = await submit(deps, body);
    void reply.type(CBOR).send(Buffer.from(encode({ batch, ids })));
  });

  app.post('/rpc/call/:ns', async (request, reply) => {
    const body = parseBulkCall(request.body);
    if (body.calls.length !== 1) throw new KsError('bad_request', '/rpc/call takes exactly one call');
    const direct = (request.query as Record<string, string>).async === 'false';
    const batch = newBatchId();
    const id = jobId(batch, 0);
    const tracker = deps.trackers.open(batch, [id], { inRedis: !direct });
    try {
      if (direct) runDirect(deps, checked, body, id);
      else await deps.scheduler.ask((r) => ({ type: 'submit', batch, request: body, reply: r }));
    } catch (error) {
      tracker.retire();
      throw error;
    }
    streamEvents(request, reply, tracker, [id], { batch, ids: [id] });
  });

  app.post('/rpc/bulkstatus', async (request, reply) => {
    const { batch, ids } = bulkStatusSchema.parse(request.body);
    const prefix = `${batch}-`;
    const foreign = ids.find((id) => !id.startsWith(prefix));
    if (foreign) throw new KsError('bad_request', `job ${foreign} is not part of batch ${batch}`);
    streamEvents(request, reply, deps.trackers.follow(batch, ids), ids);
  });

  app.get('/rpc/status/:id', async (request) => {
    const { id } = request.params as { id: string };
    const { redis, keys } = deps.store;
    deps.store.flushForgotten(); // a job delivered here a moment ago is gone, not "done"
    const h = await redis.hgetall(keys.job(id));
    if (!h.st) throw new KsError('not_found', `no job ${id} (never submitted, delivered, or expired)`);
    return {
      id,
      status: h.st,
      node: h.node ?? null,
      queues: h.queues ? h.queues.split(',') : [],
      attempts: Number(h.attempts ?? 0),
      created: num(h.created),
      started: num(h.started),
      finished: num(h.finished),
    };
  });

  app.post('/rpc/cancel/:id', async (request) => {
    const { id } = request.params as { id: string };
    const before = await deps.executor.ask((r) => ({ type: 'cancel', ids: [id], reply: r }));
    return { id, before: before.get(id) };
  });

  app.post('/rpc/bulkcancel', async (request) => {
    const { ids } = idListSchema.parse(request.body);
    if (ids.length === 0) return { before: {} };
    const before = await deps.executor.ask((r) => ({ type: 'cancel', ids, reply: r }));
    return { before: Object.fromEntries(before) };
  });

  deps.extend?.(app);
  return app;
}

/**
 * A bulk call's body, checked against the schema; and each call's arguments must be the CBOR
 * of an array. Only their first byte is looked at (major type 4): workers decode them.
 */
function parseBulkCall(body: unknown): BulkCallRequest {
  const request = bulkCallSchema.parse(body);
  for (let index = 0; index < request.calls.length; index++) {
    const { args } = request.calls[index];
    if (args.length === 0 || args[0] >> 5 !== 4) {
      throw new KsError('bad_request', `call ${index}: args must be the CBOR of the array of arguments${args.length === 0 ? ' (it is empty)' : ` (its first byte, 0x${args[0].toString(16).padStart(2, '0')}, starts no array)`}`);
    }
  }
  return request;
}

function num(value: string | undefined): number | null {
  return value === undefined ? null : Number(value);
}

async function submit(deps: GatewayDeps, body: BulkCallRequest): Promise<{ batch: string; ids: string[] }> {
  const batch = newBatchId();
  const ids = body.calls.map((_, i) => jobId(batch, i));
  const tracker = deps.trackers.open(batch, ids);
  try {
    return await deps.scheduler.ask((r) => ({ type: 'submit', batch, request: body, reply: r }));
  } catch (error) {
    tracker.retire();
    throw error;
  }
}

function runDirect(deps: GatewayDeps, checked: CheckedSources, body: BulkCallRequest, id: string): void {
  const call = body.calls[0];
  const shipped = call.registered ? undefined : body.fns[call.fn];
  if (!call.registered && !shipped) throw new KsError('bad_request', `function ${call.fn} is not shipped with the request`);
  if (shipped) checked.check(call.fn, shipped);
  if (call.registered && !deps.registry.functions.includes(call.fn)) throw unknownFunction(call.fn, deps.registry.functions, 'this node');
  deps.executor.tell({
    type: 'runDirect',
    job: {
      id,
      fn: call.fn,
      registered: call.registered === true,
      source: shipped?.source,
      args: call.args,
      options: {
        name: shipped?.name ?? call.fn,
        output: call.options?.intermediateResults === false ? false : undefined,
        timeoutMs: call.options?.timeoutMs,
        each: call.options?.each,
      },
    },
  });
}

/**
 * Streams length-prefixed CBOR frames of events until every id in `ids` has an outcome.
 * Frames produced in one turn are written together, without copying large results into them
 * (small parts are joined, large ones written as they are, in one writev); a stream that
 * completes at once (a fast call) is answered as one plain response, not a chunked one.
 */
function streamEvents(request: FastifyRequest, reply: FastifyReply, tracker: BatchTracker, ids: string[], head?: unknown): void {
  reply.hijack();
  const res = reply.raw;
  let held: Uint8Array[] = head === undefined ? [] : [encodeFrame(head)];
  let started = false;
  let ended = false;
  let flushQueued = false;
  const start = () => {
    if (!started) {
      started = true;
      res.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-store' });
    }
  };
  const writeHeld = () => {
    const parts = joinSmallParts(held);
    held = [];
    if (parts.length === 1) {
      res.write(parts[0]);
      return;
    }
    res.cork();
    for (const part of parts) res.write(part);
    res.uncork();
  };
  const flush = () => {
    flushQueued = false;
    if (ended || held.length === 0) return;
    start();
    writeHeld();
  };
  // A slow call still tells its client the job id promptly.
  const headTimer = head === undefined ? undefined : setTimeout(flush, HEAD_FLUSH_MS);
  const sink: EventSink = {
    send(events: JobEvent[]) {
      if (ended) return;
      for (const part of encodeEventFrame(events)) held.push(part);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    },
    end() {
      if (ended) return;
      ended = true;
      clearTimeout(headTimer);
      if (!started) {
        started = true;
        let length = 0;
        for (const part of held) length += part.byteLength;
        res.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-store', 'content-length': length });
      }
      if (held.length > 0) writeHeld();
      res.end();
    },
  };
  res.on('close', () => {
    clearTimeout(headTimer);
    if (!ended) {
      ended = true;
      tracker.detach(sink);
    }
  });
  tracker.attach(ids, sink);
}

const HEAD_FLUSH_MS = 5;
/** Parts smaller than this are joined before writing; larger ones are written as they are. */
const JOIN_BELOW_BYTES = 16 * 1024;

/** Joins runs of small parts into one buffer each, so that a write is not many tiny chunks. */
function joinSmallParts(parts: Uint8Array[]): Uint8Array[] {
  if (parts.length === 1) return parts;
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  const endRun = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) out.push(Buffer.concat(run));
    run = [];
  };
  for (const part of parts) {
    if (part.byteLength < JOIN_BELOW_BYTES) {
      run.push(part);
    } else {
      endRun();
      out.push(part);
    }
  }
  endRun();
  return out;
}
