/** The public API of kitchensink (DESIGN §7). */
export * from './api.js';
export { Actor, type Message, type Reply } from './actor.js';
export { Node, type NodeOptions } from '../actors/node/node.js';
export { Scheduler, DEFAULT_DATA_THRESHOLD, type RoutableCall, type ClusterView, type DataFacts, type SchedulerMessage } from '../actors/scheduler/scheduler.js';
export type { ExecutorMessage } from '../actors/executor/executor.js';
export type { DataHolderMessage, DataHolderStats } from '../actors/data-holder/data-holder.js';
