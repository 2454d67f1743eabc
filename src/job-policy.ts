/**
 * Job policies (architecture §3, docs/futures.md): what the client sends per call and what the
 * executor decides from it when a job fails. Shared by the client and the node.
 */

/** Priorities run from -MAX_PRIORITY to MAX_PRIORITY (the queue score's bands, store/keys.ts). */
export const MAX_PRIORITY = 1000;

/**
 * Per-call job policies (`bcWith`, `submitWith`, `callWith`, `map`; docs/futures.md), as a
 * call's wire options carry them (only those given).
 */
export interface JobPolicyWire {
  /** integer in [-1000, 1000]; higher runs first within a queue; equal priorities keep submit order (default 0) */
  priority?: number;
  /** the job becomes claimable only this many ms after its submit */
  delayMs?: number;
  /** run again this many times when it fails with an error of `retryOn` (default 0) */
  retries?: number;
  /** the delay before the first retry, ms (default 0); each later one `retryBackoff` times longer, ±20 % jitter */
  retryDelayMs?: number;
  /** the multiplier between retry delays (default 2) */
  retryBackoff?: number;
  /**
   * error names worth a retry; default: anything the task throws, TimeoutError and
   * WorkerCrashed. CancelledError, NoRoute and DependencyFailed are never retried.
   */
  retryOn?: string[];
  /** how long the cluster keeps the outcome once the job ended, ms (default 1 hour) */
  resultTtlMs?: number;
}

/** Never retried, whatever `retryOn` says: the job was stopped on purpose or cannot run. */
const NEVER_RETRIED = new Set(['CancelledError', 'NoRoute', 'DependencyFailed', 'NodeLost', 'JobLost', 'InvalidArguments']);

/** Whether a failure named `name` may be retried under `retryOn` (default: every task error, TimeoutError, WorkerCrashed). */
export function isRetryable(name: string, retryOn: readonly string[] | undefined): boolean {
  if (NEVER_RETRIED.has(name)) return false;
  return retryOn === undefined || retryOn.includes(name);
}

/**
 * The delay before retry number `retry` (1 for the first): retryDelayMs × backoff^(retry-1),
 * ±20 % jitter (`random` in [0, 1)).
 */
export function retryDelay(policy: JobPolicyWire, retry: number, random = Math.random()): number {
  const base = (policy.retryDelayMs ?? 0) * (policy.retryBackoff ?? 2) ** (retry - 1);
  return Math.max(0, Math.round(base * (0.8 + 0.4 * random)));
}
