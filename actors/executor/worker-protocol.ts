import type { MessagePort } from 'node:worker_threads';
import type { RemoteErrorInfo } from '../../src/errors.js';
import type { OutputStream } from '../../src/protocol.js';

/** One job as the Executor hands it to a worker thread. */
export interface WorkerJob {
  id: string;
  /** sha256 of the source for shipped functions, the export name for registered ones */
  fn: string;
  registered: boolean;
  name: string;
  /** CBOR of the argument array; within a task, views of one buffer holding every job's arguments */
  args: Uint8Array;
  queue: string;
  /** 1 on the first run, 2 after one re-queue (its node was lost or stopped), ... */
  attempt: number;
  output: boolean;
  /** a chunk of `map(..., { chunkSize })`: args are [items, index of the first]; fn runs on each item in turn */
  each?: boolean;
  /** the named environment (`--env`) whose packages the job's imports resolve from */
  env?: string;
}

/** A piscina task: jobs run one after another on one thread. */
export interface WorkerTask {
  /** prepared sources of the shipped functions the jobs call, by sha256 */
  sources: Record<string, string>;
  jobs: WorkerJob[];
}

export interface WorkerData {
  modulePath?: string;
  node: { name: string; url: string };
  /** named environments: name -> npm project folder */
  envs?: Record<string, string>;
}

/** What a thread reports about a job, in the order things happened. `ms`: how long the job ran. */
export type WorkerReport =
  | { t: 'out'; id: string; s: OutputStream; d: string }
  | { t: 'done'; id: string; r: Uint8Array; ms: number }
  | { t: 'fail'; id: string; e: RemoteErrorInfo; ms: number };

/** Worker → main, on the thread's own channel: reports in order, many per message. */
export type WorkerMessage = WorkerReport[];

/** Main → worker. */
export type MainMessage = { t: 'abort'; id: string; reason: string };

/** The first message a worker posts on piscina's parent port, handing over its channel. */
export interface ChannelHandshake {
  ksChannel: MessagePort;
  /** the thread's remote-data calls (comlink), served by the node's DataHolder */
  ksData?: MessagePort;
}
