import type { RemoteErrorInfo } from './errors.js';

/** How a finished job ended, as job history records it. */
export type HistoryOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

/** One finished job in the cluster's history (docs/dashboard.md#job-history). */
export interface JobHistoryEntry {
  id: string;
  /** the function's name (a shipped function's own name, or the registered name) */
  fn: string;
  /** the queue it was claimed from (`(direct)` for `callWith({ async: false })`) */
  queue: string;
  /** the node that ran it */
  node: string;
  /** ms since the epoch: submitted (its batch's clock), started on its thread's node, ended */
  submitted: number;
  started: number;
  ended: number;
  outcome: HistoryOutcome;
  /** the remote error, with its stack (outcomes other than ok) */
  error?: RemoteErrorInfo;
  /** the last 8 KiB of its stdout and stderr, interleaved as printed */
  output: string;
  /** characters of output it printed in all (more than `output` holds when cut) */
  outputChars: number;
}

/** A job not finished yet, as `GET /rpc/job/<id>` reports it. */
export interface LiveJob {
  id: string;
  outcome: 'running' | 'queued';
  node?: string;
  queue?: string;
  fn?: string;
  submitted?: number;
  started?: number;
  output: string;
  outputChars: number;
}

/** What `GET /rpc/jobs` and `c.jobs(filter)` select; newest first. */
export interface JobFilter {
  /** only jobs that did not end ok */
  failed?: boolean;
  queue?: string;
  /** the node that ran them */
  node?: string;
  /** only jobs that ended at or after this time (ms since the epoch) */
  since?: number;
  /** a case-insensitive text looked for in id, function, error and output */
  search?: string;
  /** at most this many (default 100, at most 10,000) */
  limit?: number;
}

/** Bytes of output kept per job. */
export const OUTPUT_TAIL_BYTES = 8 * 1024;

/** Job history's limits (the `--history-*` flags; the cluster keeps the first node's). */
export interface HistoryLimits {
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
}

export const HISTORY_DEFAULTS: HistoryLimits = { ttlMs: 24 * 3600_000, maxEntries: 100_000, maxBytes: 256 * 1024 * 1024 };

/** The query string of `GET /rpc/jobs` for a filter. */
export function jobFilterQuery(filter: JobFilter): string {
  const params = new URLSearchParams();
  if (filter.failed) params.set('failed', 'true');
  if (filter.queue) params.set('queue', filter.queue);
  if (filter.node) params.set('node', filter.node);
  if (filter.since !== undefined) params.set('since', String(filter.since));
  if (filter.search) params.set('search', filter.search);
  if (filter.limit !== undefined) params.set('limit', String(filter.limit));
  const text = params.toString();
  return text ? `?${text}` : '';
}
