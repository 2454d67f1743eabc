import { bulkCallSchema, type BulkCallRequest } from './protocol.js';

/**
 * A decoded `/rpc/bulkcall` or `/rpc/call` body as a BulkCallRequest. The usual body is
 * checked by hand (zod was 3-3.5% of a node's main-thread time on single queued calls in
 * `bench:profile-calls`, and its parse of a 10,000-call body is a long synchronous stretch):
 * `isPlainBulkCall` accepts only bodies `bulkCallSchema` accepts too (test/bulk-call-check),
 * and anything it does not recognise goes through the schema, which words the 400.
 */
export function parseBulkCallRequest(body: unknown): BulkCallRequest {
  if (isPlainBulkCall(body)) return body;
  return bulkCallSchema.parse(body);
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SUBMIT_ID = /^[A-Za-z0-9_-]{8,64}$/;
const QUEUE_NAME = /^[^\s,]+$/;
const MAX_CALLS = 1_000_000;
const MAX_SOURCE = 4 * 1024 * 1024;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const BODY_KEYS = new Set(['fns', 'calls', 'submitId']);
const CALL_KEYS = new Set(['fn', 'registered', 'args', 'queue', 'dataUrls', 'options']);

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function onlyKeys(object: Plain, allowed: ReadonlySet<string>): boolean {
  for (const key in object) if (!allowed.has(key)) return false;
  return true;
}

const isBoolean = (v: unknown): boolean => v === undefined || typeof v === 'boolean';
const isString = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;

function isPlainBulkCall(body: unknown): body is BulkCallRequest {
  if (!isPlainObject(body) || !onlyKeys(body, BODY_KEYS)) return false;
  const { fns, calls, submitId } = body;
  if (submitId !== undefined && !(typeof submitId === 'string' && SUBMIT_ID.test(submitId))) return false;
  if (!isPlainObject(fns)) return false;
  for (const sha in fns) {
    const fn = fns[sha];
    if (!SHA256_HEX.test(sha) || !isPlainObject(fn)) return false;
    let keys = 0;
    for (const key in fn) {
      if (key !== 'name' && key !== 'source') return false;
      keys++;
    }
    if (keys !== 2 || !isString(fn.name, 0, 200) || !isString(fn.source, 1, MAX_SOURCE)) return false;
  }
  if (!Array.isArray(calls) || calls.length < 1 || calls.length > MAX_CALLS) return false;
  for (const call of calls) if (!isPlainCall(call)) return false;
  return true;
}

function isPlainCall(call: unknown): boolean {
  if (!isPlainObject(call) || !onlyKeys(call, CALL_KEYS)) return false;
  if (!isString(call.fn, 1, 200) || !(call.args instanceof Uint8Array) || !isBoolean(call.registered)) return false;
  if (call.queue !== undefined && !(isString(call.queue, 1, 200) && QUEUE_NAME.test(call.queue))) return false;
  if (call.dataUrls !== undefined) {
    const urls = call.dataUrls;
    if (!Array.isArray(urls) || urls.length > 1000) return false;
    for (const url of urls) if (!isString(url, 0, 1024)) return false;
  }
  return call.options === undefined || isPlainOptions(call.options);
}

function isPlainOptions(options: unknown): boolean {
  if (!isPlainObject(options)) return false;
  for (const key in options) {
    const value = options[key];
    switch (key) {
      case 'intermediateResults':
      case 'noRouteData':
      case 'each':
        if (!isBoolean(value)) return false;
        break;
      case 'timeoutMs':
        if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= MAX_TIMEOUT_MS)) return false;
        break;
      case 'dataThreshold':
        if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) return false;
        break;
      case 'env':
        if (value !== undefined && !isString(value, 1, 100)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
