/**
 * The part of the public API that tasks use too. A shipped function's
 * `await import('kitchensink')` resolves here, so that a worker thread does not load the
 * node's server stack (fastify, ioredis, NATS, piscina) to ask for its `taskContext()`.
 */
export { Client, setupClient, client, DEFAULT_REQUEST_TIMEOUT_MS } from './client/client.js';
export type { ClientOptions, CallOptions, MapOptions, SingleCallOptions } from './client/client.js';
export type { OutputEvent, OutputHandler, OutputMode } from './client/output.js';
export type { BatchProgress } from './client/batch-progress.js';
export { Future, type FutureStatus, type FutureValue } from './client/future.js';
export type { WaitOptions, WaitResult, GatherOptions } from './client/future-sets.js';
export type { JobPolicy } from './client/job-policy.js';
export { RemoteData, du, dp, dobj, dr, type DataFormat, type SaveOptions } from './remote-data.js';
export type { DataInfo, DataInfoReport, DataState, PipelineReport } from './data-protocol.js';
export type { ReadRange, TransferOptions } from './data-backend.js';
export { checkDataUrl } from './data-url.js';
export { RemoteError, KsError, CancelledError, TimeoutError, WorkerCrashed, NodeLost, NoRoute, JobLost, DependencyFailed, type ErrorCode, type RemoteErrorInfo } from './errors.js';
export { taskContext, type TaskContext } from './task-context.js';
export type { NodeInfo, JobEvent, JobStatus, BulkCallRequest, CallSpec } from './protocol.js';
export { hostQueue } from './store/keys.js';
export type { JobHistoryEntry, LiveJob, JobFilter, HistoryOutcome } from './job-history.js';
