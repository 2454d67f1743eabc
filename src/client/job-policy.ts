import { KsError } from '../errors.js';
import { MAX_PRIORITY, type JobPolicyWire } from '../job-policy.js';

/** Per-call job policies (`bcWith`, `submitWith`, `callWith`, `map`); docs/futures.md. */
export type JobPolicy = JobPolicyWire;

const MAX_MS = 2 ** 31 - 1;

/** The policies of `options` checked, as the wire carries them (only those given). */
export function policyOptions(options: JobPolicy): JobPolicyWire {
  const wire: JobPolicyWire = {};
  const { priority, delayMs, retries, retryDelayMs, retryBackoff, retryOn, resultTtlMs } = options;
  if (priority !== undefined) {
    if (!Number.isInteger(priority) || Math.abs(priority) > MAX_PRIORITY) throw bad(`priority must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}, not ${priority}`);
    if (priority !== 0) wire.priority = priority;
  }
  if (delayMs !== undefined) {
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_MS) throw bad(`delayMs must be a whole number of ms from 0 to ${MAX_MS}, not ${delayMs}`);
    if (delayMs > 0) wire.delayMs = delayMs;
  }
  if (retries !== undefined) {
    if (!Number.isInteger(retries) || retries < 0 || retries > 1000) throw bad(`retries must be an integer from 0 to 1000, not ${retries}`);
    if (retries > 0) wire.retries = retries;
  }
  if (retryDelayMs !== undefined) {
    if (!Number.isInteger(retryDelayMs) || retryDelayMs < 0 || retryDelayMs > MAX_MS) throw bad(`retryDelayMs must be a whole number of ms from 0 to ${MAX_MS}, not ${retryDelayMs}`);
    wire.retryDelayMs = retryDelayMs;
  }
  if (retryBackoff !== undefined) {
    if (!(retryBackoff >= 1 && retryBackoff <= 100)) throw bad(`retryBackoff must be a number from 1 to 100, not ${retryBackoff}`);
    wire.retryBackoff = retryBackoff;
  }
  if (retryOn !== undefined) {
    if (!Array.isArray(retryOn) || retryOn.some((name) => typeof name !== 'string' || name.length === 0 || name.length > 200)) throw bad('retryOn must be an array of error names');
    wire.retryOn = [...retryOn];
  }
  if (resultTtlMs !== undefined) {
    if (!Number.isInteger(resultTtlMs) || resultTtlMs < 1 || resultTtlMs > MAX_MS) throw bad(`resultTtlMs must be a whole number of ms from 1 to ${MAX_MS}, not ${resultTtlMs}`);
    wire.resultTtlMs = resultTtlMs;
  }
  return wire;
}

function bad(message: string): KsError {
  return new KsError('bad_request', message);
}
