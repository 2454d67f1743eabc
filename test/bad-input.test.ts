import { createHash } from 'node:crypto';
import test from 'ava';
import { Client, KsError } from '../index.js';
import { decode, encode } from '../src/codec.js';
import { startNode, type KsNode } from './helpers/cluster.js';

const MAX_BODY = 64 * 1024;
let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'badinput', workers: 2, flags: ['--max-body', String(MAX_BODY)] });
});

test.after.always(async () => {
  await node?.stop();
});

interface Answer {
  status: number;
  type: string;
  body: { error?: unknown; code?: unknown };
}

/** POSTs `body`; `contentType` null sends none (fetch then labels a string text/plain). */
async function post(route: string, body: Uint8Array | string | undefined, contentType: string | null = 'application/cbor'): Promise<Answer> {
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  const response = await fetch(new URL(route, node.url), { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: Answer['body'] = {};
  try {
    parsed = JSON.parse(text) as Answer['body'];
  } catch {
    parsed = { error: `not JSON: ${text.slice(0, 80)}` };
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: parsed };
}

type Assertions = { is(a: unknown, b: unknown, m?: string): void; true(a: boolean, m?: string): void; regex(a: string, r: RegExp, m?: string): void };

function expectError(t: Assertions, answer: Answer, status: number, code: string, message?: RegExp): void {
  t.is(answer.status, status, JSON.stringify(answer.body));
  t.true(answer.type.startsWith('application/json'), answer.type);
  t.is(answer.body.code, code);
  t.is(typeof answer.body.error, 'string');
  if (message) t.regex(answer.body.error as string, message);
}

const identity = (x: unknown) => x;
const identitySource = identity.toString();
const identitySha = createHash('sha256').update(identitySource).digest('hex');
function validRequest(args: unknown[] = [1]): Record<string, unknown> {
  return { fns: { [identitySha]: { name: 'identity', source: identitySource } }, calls: [{ fn: identitySha, args: encode(args) }] };
}

/** The node still answers a real call correctly. */
async function stillServes(t: Assertions): Promise<void> {
  const c = new Client(node.url, { output: 'silent' });
  try {
    c.bc(identity, { still: 'serving' });
    c.bc(identity, [1, 2, 3]);
    const results = await c.br();
    t.is(JSON.stringify(results), JSON.stringify([{ still: 'serving' }, [1, 2, 3]]));
  } finally {
    await c.close();
  }
}

test.serial('a valid hand-made request works (the control for everything below)', async (t) => {
  const answer = await fetch(new URL('rpc/bulkcall', node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: encode(validRequest()) });
  t.is(answer.status, 200);
  t.is(answer.headers.get('content-type'), 'application/cbor');
});

test.serial('a malformed CBOR body gets 400 bad_request', async (t) => {
  expectError(t, await post('rpc/bulkcall', new Uint8Array([0xbf, 0x61])), 400, 'bad_request', /request body is not valid CBOR/);
  expectError(t, await post('rpc/bulkcall', new Uint8Array([0xff, 0xff, 0xff])), 400, 'bad_request', /not valid CBOR/);
  expectError(t, await post('rpc/bulkstatus', new Uint8Array([0x5b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])), 400, 'bad_request', /not valid CBOR/);
  expectError(t, await post('rpc/bulkcancel', new Uint8Array([0x9a, 0xff, 0xff, 0xff, 0xff])), 400, 'bad_request', /not valid CBOR/);
  await stillServes(t);
});

test.serial('an empty body gets 400 bad_request', async (t) => {
  expectError(t, await post('rpc/bulkcall', new Uint8Array(0)), 400, 'bad_request');
  expectError(t, await post('rpc/bulkcall', undefined), 400, 'bad_request');
});

test.serial('a wrong content type gets 415 unsupported_media_type', async (t) => {
  const json = JSON.stringify({ fns: {}, calls: [{ fn: 'x', args: [] }] });
  for (const type of ['text/plain', 'application/json', 'application/octet-stream', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    expectError(t, await post('rpc/bulkcall', json, type), 415, 'unsupported_media_type', /application\/cbor/);
  }
  expectError(t, await post('rpc/bulkcall', json, null), 415, 'unsupported_media_type', /application\/cbor/);
  expectError(t, await post('rpc/bulkcall', new Uint8Array([0xa0]), null), 415, 'unsupported_media_type', /application\/cbor/);
  expectError(t, await post('rpc/bulkstatus', json, 'application/json'), 415, 'unsupported_media_type');
  await stillServes(t);
});

test.serial('an oversize body gets 413 payload_too_large (--max-body)', async (t) => {
  const big = encode(validRequest([new Uint8Array(MAX_BODY)]));
  expectError(t, await post('rpc/bulkcall', big), 413, 'payload_too_large');
  expectError(t, await post('rpc/call/x', big), 413, 'payload_too_large');
  // Through the client: a KsError with the code and status.
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(identity, 'y'.repeat(MAX_BODY));
  const error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(error!.code, 'payload_too_large');
  t.is(error!.status, 413);
  // Just under the limit is fine.
  c.bc(identity, 'y'.repeat(MAX_BODY - 1024));
  t.is(((await c.br())[0] as string).length, MAX_BODY - 1024);
  await stillServes(t);
});

test.serial('schema-invalid bodies get 400 bad_request saying what is wrong', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /invalid request body/],
    [42, /invalid request body/],
    ['a string', /invalid request body/],
    [[], /invalid request body/],
    [{}, /invalid request body: fns: .*; calls: /],
    [{ fns: {}, calls: [] }, /calls: Too small|calls: .*>=1/i],
    [{ fns: {}, calls: [{ fn: 'x' }] }, /calls\.0\.args/],
    [{ fns: {}, calls: [{ fn: 'x', args: [1, 2] }] }, /calls\.0\.args/],
    [{ fns: {}, calls: [{ fn: '', args: encode([]) }] }, /calls\.0\.fn/],
    [{ fns: {}, calls: [{ fn: 'x', args: encode([]), extra: 1 }] }, /Unrecognized key/],
    [{ fns: { notasha: { name: 'f', source: 'x => x' } }, calls: [{ fn: 'notasha', args: encode([]) }] }, /function keys are sha256 hex/],
    [{ fns: {}, calls: [{ fn: 'x', args: encode([]), queue: 'has space' }] }, /queue names have no spaces or commas/],
    [{ fns: {}, calls: [{ fn: 'x', args: encode([]), options: { timeoutMs: 'soon' } }] }, /calls\.0\.options\.timeoutMs/],
    [{ fns: {}, calls: [{ fn: 'x', args: encode([]), options: { unknownOption: true } }] }, /Unrecognized key/],
    [{ ...validRequest(), calls: [{ fn: 'f'.repeat(64), args: encode([]) }] }, /neither shipped with the request nor registered/],
    [{ fns: { [identitySha]: { name: 'identity', source: 'x => 2 * x' } }, calls: [{ fn: identitySha, args: encode([]) }] }, /is not the sha256 of its source/],
  ];
  for (const [body, message] of cases) {
    expectError(t, await post('rpc/bulkcall', encode(body)), 400, 'bad_request', message);
  }
  expectError(t, await post('rpc/bulkstatus', encode({ batch: 'b', ids: ['other-00001'] })), 400, 'bad_request', /not part of batch b/);
  expectError(t, await post('rpc/bulkstatus', encode({ batch: 'b' })), 400, 'bad_request', /ids/);
  expectError(t, await post('rpc/bulkcancel', encode({ ids: 'x' })), 400, 'bad_request', /ids/);
  expectError(t, await post('rpc/call/x', encode({ ...validRequest(), calls: [{ fn: identitySha, args: encode([]) }, { fn: identitySha, args: encode([]) }] })), 400, 'bad_request', /exactly one call/);
  await stillServes(t);
});

test.serial('unknown routes and methods get 404 JSON', async (t) => {
  const get = await fetch(new URL('rpc/nothing-here', node.url));
  t.is(get.status, 404);
  t.like(await get.json(), { code: 'not_found' });
  const wrongMethod = await fetch(new URL('rpc/ping', node.url), { method: 'DELETE' });
  t.is(wrongMethod.status, 404);
  t.like(await wrongMethod.json(), { code: 'not_found' });
});

/** mulberry32: a small seeded PRNG, so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 7 : 10));
  switch (pick) {
    case 0: return Math.floor(random() * 2 ** 32) - 2 ** 31;
    case 1: return random() * 1e6;
    case 2: return 'k'.repeat(Math.floor(random() * 20));
    case 3: return random() < 0.5;
    case 4: return null;
    case 5: return undefined;
    case 6: return Uint8Array.from({ length: Math.floor(random() * 16) }, () => Math.floor(random() * 256));
    case 7: return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1));
    case 8: return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, (_, i) => [['fns', 'calls', 'fn', 'args', 'queue', 'options', `k${i}`][Math.floor(random() * 7)], randomValue(random, depth + 1)]));
    default: return new Map([[randomValue(random, depth + 1), randomValue(random, depth + 1)]]);
  }
}

test.serial('fuzz: hundreds of random, truncated and mutated bulk-call bodies never break the node', async (t) => {
  const seed = 20240601;
  const random = prng(seed);
  const valid = Buffer.from(encode(validRequest([{ a: [1, 2, 3], s: 'text', m: new Map([[1, 2]]) }])));
  const bodies: { kind: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 100; i++) {
    bodies.push({ kind: 'random bytes', bytes: Uint8Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)) });
  }
  for (let i = 0; i < 100; i++) {
    bodies.push({ kind: 'truncated', bytes: valid.subarray(0, Math.floor(random() * valid.length)) });
  }
  for (let i = 0; i < 100; i++) {
    const mutated = Buffer.from(valid);
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
    bodies.push({ kind: 'mutated', bytes: mutated });
  }
  for (let i = 0; i < 100; i++) {
    bodies.push({ kind: 'random CBOR', bytes: encode(randomValue(random)) });
  }
  const statuses = new Map<number, number>();
  for (const [i, { kind, bytes }] of bodies.entries()) {
    const response = await fetch(new URL('rpc/bulkcall', node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes });
    const text = await response.text();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const where = `seed ${seed}, body ${i} (${kind}): ${response.status} ${text.slice(0, 200)}`;
    if (response.status === 200) {
      // A mutation that is still a valid request: the node took it.
      t.is(response.headers.get('content-type'), 'application/cbor', where);
      continue;
    }
    t.true(response.status >= 400 && response.status < 500, where);
    const body = JSON.parse(text) as { error: unknown; code: unknown };
    t.is(typeof body.error, 'string', where);
    t.is(typeof body.code, 'string', where);
  }
  t.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.is(bodies.length, 400);
  await stillServes(t);
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.like(await c.ping(), { ok: true, node: 'badinput' });
});

/** The events of a `/rpc/call` answer: length-prefixed CBOR frames, the first one its head. */
async function callEvents(route: string, body: Uint8Array): Promise<{ type: string; error?: { name: string; message: string; stack?: string } }[]> {
  const response = await fetch(new URL(route, node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
  const bytes = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`${response.status}: ${bytes.toString()}`);
  const frames: unknown[] = [];
  for (let at = 0; at < bytes.length; at += 4 + bytes.readUInt32BE(at)) frames.push(decode(bytes.subarray(at + 4, at + 4 + bytes.readUInt32BE(at))));
  return frames.slice(1).flat() as { type: string }[];
}

test.serial('args that are not the CBOR of an array get 400 bad_request at submit', async (t) => {
  const withArgs = (args: Uint8Array) => encode({ ...validRequest(), calls: [{ fn: identitySha, args: encode([1]) }, { fn: identitySha, args }] });
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([0x01]), '(its first byte, 0x01, starts no array)'], // the integer 1
    [new Uint8Array([0xa1, 0x00, 0x01]), '(its first byte, 0xa1, starts no array)'], // { 0: 1 }
    [new Uint8Array([0x63, 0x5b, 0x31, 0x5d]), '(its first byte, 0x63, starts no array)'], // the text "[1]"
    [new Uint8Array([0xd8, 0x1c, 0x80]), '(its first byte, 0xd8, starts no array)'], // a tag around []
    [new Uint8Array([0xff, 0x00]), '(its first byte, 0xff, starts no array)'],
    [new Uint8Array(0), '(it is empty)'],
  ];
  for (const [args, detail] of cases) {
    for (const route of ['rpc/bulkcall', 'rpc/call/identity', 'rpc/call/identity?async=false']) {
      const body = route === 'rpc/bulkcall' ? withArgs(args) : encode({ ...validRequest(), calls: [{ fn: identitySha, args }] });
      const answer = await post(route, body);
      expectError(t, answer, 400, 'bad_request');
      t.is(answer.body.error, `call ${route === 'rpc/bulkcall' ? 1 : 0}: args must be the CBOR of the array of arguments ${detail}`);
    }
  }
  await stillServes(t);
});

test.serial('args that start an array but are not valid CBOR fail the job with a clear error, without node_modules frames', async (t) => {
  // A two-element array holding one element; an indefinite array never closed; a break code inside a definite array.
  for (const args of [[0x82, 0x01], [0x9f, 0x01, 0x02], [0x81, 0xff]]) {
    for (const route of ['rpc/call/identity', 'rpc/call/identity?async=false']) {
      const events = await callEvents(route, encode({ ...validRequest(), calls: [{ fn: identitySha, args: new Uint8Array(args) }] }));
      const failed = events.find((event) => event.type === 'failed');
      const where = `${route} ${Buffer.from(args).toString('hex')}: ${JSON.stringify(events)}`;
      t.is(failed?.error?.name, 'InvalidArguments', where);
      t.regex(failed?.error?.message ?? '', /^the call's arguments are not valid CBOR: ./, where);
      t.notRegex(failed?.error?.stack ?? '', /node_modules|cbor-x|\n\s+at /, where);
    }
  }
  await stillServes(t);
});
