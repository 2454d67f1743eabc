import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { decode, encode } from '../../src/codec.js';
import type { NodeConfig } from '../../src/config.js';
import { hasCredentials } from '../../src/credentials.js';
import { KsError, unknownFunction } from '../../src/errors.js';
import { CheckedSources } from '../../src/function-source.js';
import { batchOfJob, jobId, newBatchId } from '../../src/ids.js';
import type { Logger } from '../../src/log.js';
import { parseBulkCallRequest } from '../../src/bulk-call-check.js';
import { bulkStatusSchema, idListSchema, resultsSchema, type BulkCallRequest, type MissingJobEvent } from '../../src/protocol.js';
import type { Registry } from '../../src/registry.js';
import type { Store } from '../../src/store/store.js';
import type { Executor } from '../executor/executor.js';
import type { ResultSpill } from '../executor/result-spill.js';
import type { SchedulerActor } from '../scheduler/scheduler.js';
import { installTokenCheck, VIEW } from './access.js';
import type { BatchTracker, BatchTrackers } from './batch-tracker.js';
import { streamEvents as streamEventParts, type StreamPart } from './event-stream.js';
import { sendError } from './http-errors.js';

export { EVENT_STREAM } from './event-stream.js';
export const CBOR = 'application/cbor';

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

/** The node's HTTP API (architecture §8), translating requests into actor messages. */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const { config } = deps;
  const checked = new CheckedSources();
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger, // 500s are logged with their stack (http-errors.ts)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    forceCloseConnections: true,
    keepAliveTimeout: 60_000,
    ...(config.tlsCert ? { https: { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey!) } } : {}),
  }) as unknown as FastifyInstance;

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

  installTokenCheck(app, config);

  app.get('/rpc/ping', VIEW, async () => ({ ok: true, node: config.nodeName, url: config.nodeUrl, version: deps.version }));

  // What `ks start --join <this node>` needs to join this node's cluster: the Redis and NATS
  // urls with their credentials, so only to a caller holding the token (docs/security.md).
  app.get('/rpc/cluster', async () => {
    if (!config.token && (hasCredentials(config.redisUrl) || hasCredentials(config.natsUrl) || config.natsCreds !== undefined)) {
      throw new KsError('unauthorized', `node ${config.nodeName} has no token, so it hands its Redis and NATS credentials to no one: start the cluster's nodes with --token-file (or --token) to let nodes --join it`, { status: 403 });
    }
    return { node: config.nodeName, redisUrl: config.redisUrl, natsUrl: config.natsUrl, natsCreds: config.natsCreds, prefix: config.prefix };
  });

  app.get('/rpc/node', async () => deps.nodeStatus());

  // A large result this node kept on disk, taken by the head node of its job.
  app.get('/rpc/result/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const consume = (request.query as Record<string, string>).consume === 'true';
    void reply.type(CBOR).send(await deps.spill.read(id, consume));
  });

  // The head of its job delivered that result: the copy kept here may go.
  app.delete('/rpc/result/:id', async (request) => {
    const { id } = request.params as { id: string };
    await deps.spill.discard(id);
    return { id };
  });

  // Waiting jobs per queue, for `ks status`: the queues ever pushed to are a set, no SCAN needed.
  app.get('/rpc/queues', VIEW, async () => {
    const names = (await deps.store.queueNames()).sort();
    const lengths = await deps.store.jobs.queueLengths(names);
    return { queues: Object.fromEntries(names.map((name, i) => [name, lengths[i]] as const).filter(([, n]) => n > 0)) };
  });

  app.get('/rpc/hosts', VIEW, async () => {
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
    if (direct) {
      // Never in Redis, so a submitId has nothing to map to: a resend runs the call again.
      const batch = newBatchId();
      const id = jobId(batch, 0);
      const tracker = deps.trackers.open(batch, [id], { inRedis: false });
      try {
        runDirect(deps, checked, body, id);
      } catch (error) {
        tracker.retire();
        throw error;
      }
      streamEvents(request, reply, tracker, [id], { batch, ids: [id] });
      return;
    }
    const submitted = await submit(deps, body);
    streamEvents(request, reply, submitted.tracker, submitted.ids, { batch: submitted.batch, ids: submitted.ids });
  });

  app.post('/rpc/bulkstatus', async (request, reply) => {
    const { batch, ids } = bulkStatusSchema.parse(request.body);
    const prefix = `${batch}-`;
    const foreign = ids.find((id) => !id.startsWith(prefix));
    if (foreign) throw new KsError('bad_request', `job ${foreign} is not part of batch ${batch}`);
    streamEvents(request, reply, deps.trackers.follow(batch, ids), ids);
  });

  // Outcomes of earlier jobs of any batches, from whichever node is asked (the client's head
  // may be gone, or another process collects): each batch is followed from Redis here.
  app.post('/rpc/results', async (request, reply) => {
    const { ids } = resultsSchema.parse(request.body);
    if (new Set(ids).size !== ids.length) throw new KsError('bad_request', 'each job id may be asked for once');
    const { missing, byBatch } = await presentJobs(deps.store, ids);
    const parts: StreamPart[] = [...byBatch].map(([batch, batchIds]) => ({ tracker: deps.trackers.follow(batch, batchIds), ids: batchIds }));
    streamEventParts(request, reply, parts, { preface: missing });
  });

  app.get('/rpc/status/:id', async (request) => {
    const { id } = request.params as { id: string };
    deps.store.flushForgotten(); // a job delivered here a moment ago is gone, not "done"
    const job = await deps.store.jobs.record(id);
    if (!job) throw new KsError('not_found', `no job ${id} (never submitted, delivered, or expired)`);
    return { id, ...job };
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
  const request = parseBulkCallRequest(body);
  for (let index = 0; index < request.calls.length; index++) {
    const { args } = request.calls[index];
    if (args.length === 0 || args[0] >> 5 !== 4) {
      throw new KsError('bad_request', `call ${index}: args must be the CBOR of the array of arguments${args.length === 0 ? ' (it is empty)' : ` (its first byte, 0x${args[0].toString(16).padStart(2, '0')}, starts no array)`}`);
    }
  }
  return request;
}

/** Splits ids into those Redis does not hold (a `missing` event each) and the rest, by batch. */
async function presentJobs(store: Store, ids: readonly string[]): Promise<{ missing: MissingJobEvent[]; byBatch: Map<string, string[]> }> {
  store.flushForgotten(); // a job delivered here a moment ago is gone
  const present = await store.jobs.exist(ids);
  const missing: MissingJobEvent[] = [];
  const byBatch = new Map<string, string[]>();
  ids.forEach((id, i) => {
    if (!present[i]) {
      missing.push({ type: 'missing', id, message: `no job ${id}: never submitted, its outcome was delivered already, or it expired` });
      return;
    }
    const batch = batchOfJob(id);
    const list = byBatch.get(batch);
    if (list) list.push(id);
    else byBatch.set(batch, [id]);
  });
  return { missing, byBatch };
}

/**
 * Submits a batch. Its tracker is open before any job exists; a resend of a submitId answers
 * the batch of the first send instead (its tracker: this node's, or one that reads Redis).
 */
async function submit(deps: GatewayDeps, body: BulkCallRequest): Promise<{ batch: string; ids: string[]; tracker: BatchTracker }> {
  const batch = newBatchId();
  const ids = body.calls.map((_, i) => jobId(batch, i));
  const tracker = deps.trackers.open(batch, ids);
  let answer: { batch: string; ids: string[] };
  try {
    answer = await deps.scheduler.ask((r) => ({ type: 'submit', batch, request: body, reply: r }));
  } catch (error) {
    tracker.retire();
    throw error;
  }
  tracker.acked(); // Redis has every job now: one not found later is lost or delivered, not unwritten
  if (answer.batch === batch) return { ...answer, tracker };
  tracker.retire();
  return { ...answer, tracker: deps.trackers.follow(answer.batch, answer.ids) };
}

function runDirect(deps: GatewayDeps, checked: CheckedSources, body: BulkCallRequest, id: string): void {
  const call = body.calls[0];
  const shipped = call.registered ? undefined : body.fns[call.fn];
  if (!call.registered && !shipped) throw new KsError('bad_request', `function ${call.fn} is not shipped with the request`);
  if (shipped) checked.check(call.fn, shipped);
  if (call.registered && !deps.registry.functions.includes(call.fn)) throw unknownFunction(call.fn, deps.registry.functions, 'this node');
  // A direct call runs on the node it was sent to: there is no other node to route it to.
  const env = call.options?.env;
  if (env !== undefined && !deps.config.envs?.[env]) {
    throw new KsError('no_route', `node "${deps.config.nodeName}" does not have environment "${env}" (a call with async: false runs on the node it is sent to)`);
  }
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
        env,
      },
    },
  });
}

/** The events of one tracker's `ids` (see event-stream.ts), after `head`, a first frame. */
function streamEvents(request: FastifyRequest, reply: FastifyReply, tracker: BatchTracker, ids: string[], head?: unknown): void {
  streamEventParts(request, reply, [{ tracker, ids }], head === undefined ? {} : { head });
}
