/** The public API of kitchensink (DESIGN §7). */
export { Client, setupClient, client } from './client/client.js';
export type { ClientOptions, CallOptions, SingleCallOptions } from './client/client.js';
export type { OutputEvent, OutputHandler, OutputMode } from './client/output.js';
export { RemoteData, type DataFormat } from './remote-data.js';
export { RemoteError, KsError, type ErrorCode, type RemoteErrorInfo } from './errors.js';
export { taskContext, type TaskContext } from './task-context.js';
export { Actor, type Message, type Reply } from './actor.js';
export type { NodeInfo, JobEvent, JobStatus, BulkCallRequest, CallSpec } from './protocol.js';
export { hostQueue } from './store/keys.js';
export { Node, type NodeOptions } from '../actors/node/node.js';
export { Scheduler, type RoutableCall, type ClusterView, type SchedulerMessage } from '../actors/scheduler/scheduler.js';
export type { ExecutorMessage } from '../actors/executor/executor.js';
export type { DataHolderMessage } from '../actors/data-holder/data-holder.js';
