/**
 * The package's entry (`import ... from 'kitchensink'`, architecture §7): the client API of
 * `src/api.ts` and the node's actors for those who run or extend a node in their own process.
 * It sits above `src/` and `actors/`, so neither imports the other's public face
 * (test/layering.test.ts keeps it so). Tasks get `src/api.ts` alone: see actors/executor/worker.ts.
 */
export * from './src/api.js';
export { Actor, type ActorRef, type AskMessage, type Message, type Reply, type ReplyOf } from './src/actor.js';
export { Node, type NodeOptions } from './actors/node/node.js';
export { Scheduler, DEFAULT_DATA_THRESHOLD, type SchedulerActor, type SchedulerDeps, type SchedulerMessage, type SchedulerOptions } from './actors/scheduler/scheduler.js';
export { localityRouter, type Router, type RoutableCall, type ClusterView, type NodeView } from './actors/scheduler/router.js';
export type { DataFacts } from './actors/scheduler/locality.js';
export type { ExecutorMessage } from './actors/executor/executor.js';
export type { DataHolderMessage, DataHolderStats } from './actors/data-holder/data-holder.js';
