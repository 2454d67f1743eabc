import type { RemoteErrorInfo } from '../../src/errors.js';
import type { JobPolicyWire } from '../../src/job-policy.js';
import type { WorkerJob } from './worker-protocol.js';

/** Options a job carries (stored CBOR-encoded with the job). */
export interface JobOptions {
  name?: string;
  /** false: do not forward output */
  output?: boolean;
  timeoutMs?: number;
  /** the job is a chunk of a map: see WorkerJob.each */
  each?: boolean;
  /** the named environment its packages come from (`--env`) */
  env?: string;
  /** what happens when it fails, and how long its outcome is kept (src/job-policy.ts) */
  policy?: Pick<JobPolicyWire, 'retries' | 'retryDelayMs' | 'retryBackoff' | 'retryOn' | 'resultTtlMs'>;
}

/** A job handed to the executor without going through Redis (`callWith({ async: false })`). */
export interface DirectJob {
  id: string;
  fn: string;
  registered: boolean;
  source?: string;
  args: Uint8Array;
  options: JobOptions;
}

/** A job this node claimed (or was handed) and has not finished: running, or waiting for a thread. */
export interface ActiveJob {
  id: string;
  job: WorkerJob;
  options: JobOptions;
  /** the node whose client waits for this job's events */
  head: string;
  direct: boolean;
  /** shipped functions: the source prepared by `prepareSource`, sent once per task */
  prepared?: string;
  group?: TaskGroup;
  timer?: NodeJS.Timeout;
  startedAt: number;
  /** set when the executor itself ended the job (timeout, cancel, handed back by a drain): the thread's word no longer counts */
  endedBy?: 'timeout' | 'cancel' | 'handback';
  /** its function is not known to be short: it runs alone and nothing is prefetched for its thread */
  long?: boolean;
}

/** The jobs of one piscina task. */
export interface TaskGroup {
  jobs: ActiveJob[];
  abort: AbortController;
  /** dispatch order: piscina starts tasks first come, first served */
  seq: number;
}

/** How a job ended: its result, or the error it (or the executor for it) reports. */
export type JobOutcome = { ok: true; result: Uint8Array } | { ok: false; error: RemoteErrorInfo };
