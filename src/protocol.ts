import { z } from 'zod';
import type { RemoteErrorInfo } from './errors.js';

/**
 * Wire types between client and node, and between actors across nodes. Request bodies are
 * CBOR; the schemas below validate them after decoding so a hostile body gets a 400.
 */

export const callOptionsSchema = z.object({
  intermediateResults: z.boolean().optional(),
  timeoutMs: z.number().int().positive().max(2 ** 31 - 1).optional(),
  dataThreshold: z.number().nonnegative().optional(),
  noRouteData: z.boolean().optional(),
  /** `map(..., { chunkSize })`: the arguments are [items, index of the first]; fn runs on each item in turn */
  each: z.boolean().optional(),
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

export const bulkCallSchema = z.object({
  fns: z.record(z.string().regex(/^[0-9a-f]{64}$/, 'function keys are sha256 hex'), shippedFunctionSchema),
  calls: z.array(callSpecSchema).min(1).max(1_000_000),
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

export const idListSchema = z.object({ ids: z.array(z.string().min(1).max(100)).max(1_000_000) }).strict();

export type OutputStream = 'stdout' | 'stderr';

/** What the client receives about a job, in order within the job. */
export type JobEvent =
  | { type: 'output'; id: string; stream: OutputStream; text: string }
  | { type: 'done'; id: string; result: Uint8Array }
  | { type: 'failed'; id: string; error: RemoteErrorInfo };

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
  /** the node's instance id (kept in its datadir): a restart of the same datadir keeps it */
  instance?: string;
  /** the node is stopping: it finishes its running jobs and serves no queue any more */
  draining?: boolean;
}
