import { z } from 'zod';
import type { RemoteErrorInfo } from './errors.js';
import { MAX_PRIORITY } from './job-policy.js';

/**
 * Wire types between client and node, and between actors across nodes. Request bodies are
 * CBOR; the schemas below validate them after decoding so a hostile body gets a 400.
 */

export const callOptionsSchema = z.object({
  intermediateResults: z.boolean().optional(),
  timeoutMs: z.number().int().positive().max(2 ** 31 - 1).optional(),
  dataThreshold: z.number().nonnegative().optional(),
  noRouteData: z.boolean().optional(),
  /** run only on a node offering this named environment (`--env NAME=DIR`), importing packages from it */
  env: z.string().min(1).max(100).optional(),
  /** `map(..., { chunkSize })`: the arguments are [items, index of the first]; fn runs on each item in turn */
  each: z.boolean().optional(),
  // job policies (src/job-policy.ts; the client checks them first, with friendlier messages)
  priority: z.number().int().min(-MAX_PRIORITY).max(MAX_PRIORITY).optional(),
  delayMs: z.number().int().nonnegative().max(2 ** 31 - 1).optional(),
  retries: z.number().int().nonnegative().max(1000).optional(),
  retryDelayMs: z.number().int().nonnegative().max(2 ** 31 - 1).optional(),
  retryBackoff: z.number().min(1).max(100).optional(),
  retryOn: z.array(z.string().min(1).max(200)).max(100).optional(),
  resultTtlMs: z.number().int().positive().max(2 ** 31 - 1).optional(),
}).strict();
export type CallOptions = z.infer<typeof callOptionsSchema>;

const queueName = z.string().min(1).max(200).regex(/^[^\s,]+$/, 'queue names have no spaces or commas');

export const callSpecSchema = z.object({
  /** sha256 of a shipped function's source, or a registered function's name */
  fn: z.string().min(1).max(200),
  registered: z.boolean().optional(),
  /** CBOR of the argument array, kept opaque by the node */
  args: z.instanceof(Uint8Array) as z.ZodType<Uint8Array>,
  queue: queueName.optional(),
  /** data urls among the arguments, for locality routing */
  dataUrls: z.array(z.string().max(1024)).max(1000).optional(),
  options: callOptionsSchema.optional(),
}).strict();
export type CallSpec = z.infer<typeof callSpecSchema>;

export const shippedFunctionSchema = z.object({
  name: z.string().max(200),
  source: z.string().min(1).max(4 * 1024 * 1024),
}).strict();
export type ShippedFunction = z.infer<typeof shippedFunctionSchema>;

/** A client-made idempotency key of a submit: a resend with it returns the first send's batch. */
export const submitIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'submitId is 8-64 characters of A-Z, a-z, 0-9, _ and -');

export const bulkCallSchema = z.object({
  fns: z.record(z.string().regex(/^[0-9a-f]{64}$/, 'function keys are sha256 hex'), shippedFunctionSchema),
  calls: z.array(callSpecSchema).min(1).max(1_000_000),
  /** see docs/reliability.md "Submits": same submitId, same { batch, ids }, enqueued once */
  submitId: submitIdSchema.optional(),
}).strict();
export type BulkCallRequest = z.infer<typeof bulkCallSchema>;

export interface BulkCallResponse {
  batch: string;
  ids: string[];
}

export const bulkStatusSchema = z.object({
  batch: z.string().min(1).max(64),
  ids: z.array(z.string().min(1).max(100)).min(1).max(1_000_000),
}).strict();
export type BulkStatusRequest = z.infer<typeof bulkStatusSchema>;

/** `POST /rpc/results`: outcomes of earlier jobs, of any batches, not yet delivered */
export const resultsSchema = z.object({ ids: z.array(z.string().min(1).max(100)).min(1).max(1_000_000) }).strict();

export const idListSchema = z.object({ ids: z.array(z.string().min(1).max(100)).max(1_000_000) }).strict();

export type OutputStream = 'stdout' | 'stderr';

/** What the client receives about a job, in order within the job. */
export type JobEvent =
  | { type: 'output'; id: string; stream: OutputStream; text: string }
  | { type: 'done'; id: string; result: Uint8Array }
  | { type: 'failed'; id: string; error: RemoteErrorInfo };

/** On `/rpc/results`: a job that Redis does not hold (never submitted, delivered already, or expired). */
export interface MissingJobEvent { type: 'missing'; id: string; message: string }

/** What `/rpc/results` streams. */
export type ResultsEvent = JobEvent | MissingJobEvent;

/**
 * Request header a client sends with an event stream request: the node writes a keep-alive
 * frame (an empty array of events, which every client skips) after this many ms of silence.
 */
export const KEEPALIVE_HEADER = 'x-ks-keepalive-ms';

/**
 * Request header: the client gives up on an answer silent for this many ms. A node that finds
 * it has been silent longer (it was frozen) knows nobody reads the stream any more, and
 * closes it instead of writing outcomes that would count as delivered.
 */
export const GIVE_UP_HEADER = 'x-ks-timeout-ms';

/**
 * Executors publish events in batches. A result too large to travel in an event is read on
 * delivery: from Redis (`resultInStore`), or from the node that computed it (`resultAt`).
 */
export type WireJobEvent =
  | JobEvent
  | { type: 'done'; id: string; resultInStore: true }
  | { type: 'done'; id: string; resultAt: string };

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface NodeInfo {
  name: string;
  url: string;
  queues: string[];
  workers: number;
  readOnly: boolean;
  started: number;
  heartbeat: number;
  functions: string[];
  /** the named environments (`--env`) the node offers */
  envs?: string[];
  /** the node's instance id (kept in its datadir): a restart of the same datadir keeps it */
  instance?: string;
  /** the node is stopping: it finishes its running jobs and serves no queue any more */
  draining?: boolean;
}
