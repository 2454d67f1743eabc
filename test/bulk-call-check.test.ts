import test from 'ava';
import { ZodError } from 'zod';
import { parseBulkCallRequest } from '../src/bulk-call-check.js';
import { bulkCallSchema } from '../src/protocol.js';

const sha = 'a'.repeat(64);
const args = new Uint8Array([0x81, 0x01]);
const good = { fns: { [sha]: { name: 'f', source: 'x => x' } }, calls: [{ fn: sha, args }] };

/** Bodies around the usual shape: the hand check must never accept one the schema refuses. */
const bodies: unknown[] = [
  good,
  { ...good, submitId: 'abcdefgh' },
  { ...good, submitId: 'short' },
  { ...good, submitId: 'has space1' },
  { ...good, extra: 1 },
  { fns: {}, calls: [{ fn: 'registered-name', registered: true, args }] },
  { fns: {}, calls: [] },
  { fns: { ['A'.repeat(64)]: { name: 'f', source: 'x' } }, calls: [{ fn: sha, args }] },
  { fns: { [sha]: { name: 'f', source: '' } }, calls: [{ fn: sha, args }] },
  { fns: { [sha]: { name: 'f', source: 'x', more: 1 } }, calls: [{ fn: sha, args }] },
  { fns: { [sha]: { source: 'x' } }, calls: [{ fn: sha, args }] },
  { fns: { [sha]: { name: 1, source: 'x' } }, calls: [{ fn: sha, args }] },
  { fns: good.fns, calls: [{ fn: sha, args: [1] }] },
  { fns: good.fns, calls: [{ fn: '', args }] },
  { fns: good.fns, calls: [{ fn: sha, args, registered: 'yes' }] },
  { fns: good.fns, calls: [{ fn: sha, args, queue: 'gpu' }] },
  { fns: good.fns, calls: [{ fn: sha, args, queue: 'a,b' }] },
  { fns: good.fns, calls: [{ fn: sha, args, queue: '' }] },
  { fns: good.fns, calls: [{ fn: sha, args, queue: 'q|node' }] },
  { fns: good.fns, calls: [{ fn: sha, args, dataUrls: ['a/b'] }] },
  { fns: good.fns, calls: [{ fn: sha, args, dataUrls: [1] }] },
  { fns: good.fns, calls: [{ fn: sha, args, dataUrls: 'a' }] },
  { fns: good.fns, calls: [{ fn: sha, args, other: 1 }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: {} }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { each: true, timeoutMs: 5, intermediateResults: false, noRouteData: true, env: 'e', dataThreshold: 0 } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { timeoutMs: 0 } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { timeoutMs: 1.5 } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { timeoutMs: 2 ** 31 } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { dataThreshold: -1 } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { dataThreshold: Infinity } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { env: '' } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: { unknown: true } }] },
  { fns: good.fns, calls: [{ fn: sha, args, options: [] }] },
  { fns: [], calls: [{ fn: sha, args }] },
  { calls: [{ fn: sha, args }] },
  [],
  null,
  'text',
];

test('the hand check accepts exactly what the schema accepts, and answers the same request', (t) => {
  for (const body of bodies) {
    const schema = bulkCallSchema.safeParse(body);
    let fast: unknown;
    let error: unknown;
    try {
      fast = parseBulkCallRequest(body);
    } catch (e) {
      error = e;
    }
    const label = JSON.stringify(body, (_k, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v === Infinity ? 'Infinity' : v));
    if (schema.success) t.deepEqual(fast, schema.data, label);
    else t.true(error instanceof ZodError, `${label} must be refused with the schema's error`);
  }
});
