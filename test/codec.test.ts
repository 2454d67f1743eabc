import test from 'ava';
import { decode, encode, encodeLargeBuffer } from '../src/codec.js';
import { Client } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

/** Values that must cross the wire exactly: same types, same contents. */
function samples(): Record<string, unknown> {
  const nested = new Map<unknown, unknown>([
    ['set', new Set([1, 'two', 3n])],
    [42, [new Date(0), { deep: [null, undefined, [undefined]] }]],
  ]);
  return {
    uint8: new Uint8Array([0, 1, 254, 255]),
    uint8Empty: new Uint8Array(0),
    uint8Clamped: new Uint8ClampedArray([0, 128, 255]),
    int8: new Int8Array([-128, 0, 127]),
    uint16: new Uint16Array([0, 65535]),
    int16: new Int16Array([-32768, 32767]),
    uint32: new Uint32Array([0, 4294967295]),
    int32: new Int32Array([-2147483648, 0, 2147483647]),
    float32: new Float32Array([1.5, -0.25, Number.POSITIVE_INFINITY]),
    float64: new Float64Array([Math.PI, -0, Number.NaN, Number.MIN_VALUE]),
    bigInt64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
    bigUint64: new BigUint64Array([0n, 2n ** 64n - 1n]),
    subarray: new Uint16Array([1, 2, 3, 4, 5]).subarray(1, 3),
    buffer: Buffer.from('hello buffer'),
    map: new Map<unknown, unknown>([['a', 1], [2, 'b'], [null, undefined]]),
    emptyMap: new Map(),
    set: new Set(['x', 1, null]),
    emptySet: new Set(),
    date: new Date('2024-02-29T12:34:56.789Z'),
    bigints: [0n, 1n, -1n, 2n ** 64n, -(2n ** 64n) - 1n, 2n ** 200n + 7n],
    numbers: [0, 1.5, -1e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.1 + 0.2],
    undefinedVsNull: { a: undefined, b: null, list: [undefined, null, 0, '', false] },
    sparse: [1, undefined, 3],
    nested: { level1: { level2: { level3: { level4: [1, { five: new Map([['six', new Set([7])]]) }] } } }, nested },
    strings: ['', 'ascii', 'ünïcødé ✓', '𝄞 astral', 'line\nbreak\0nul'],
    booleans: [true, false],
    largeString: 'x'.repeat(300_000) + 'end',
    largeArray: Array.from({ length: 20_000 }, (_, i) => i),
    objectWithNumericKeys: { 1: 'one', 10: 'ten', b: 'b' },
  };
}

/**
 * ava's deepEqual compares constructors, typed-array contents, Map/Set entries, -0 vs 0 and
 * NaN; it is the exactness check. Typed arrays also keep their element type.
 */
function assertExact(t: { deepEqual(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void; true(a: boolean, m?: string): void }, actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  for (const key of Object.keys(expected)) {
    t.deepEqual(actual[key], expected[key], key);
    const e = expected[key];
    if (e !== null && typeof e === 'object') t.is(Object.getPrototypeOf(actual[key]), Object.getPrototypeOf(e), `${key} type`);
  }
  t.true(Object.is((actual.float64 as Float64Array)[1], -0), '-0 in a Float64Array stays -0');
  t.true(Object.hasOwn(actual.undefinedVsNull as object, 'a'), 'an undefined property is kept, not dropped');
  t.is((actual.undefinedVsNull as { a: unknown }).a, undefined);
  t.is((actual.undefinedVsNull as { b: unknown }).b, null);
  t.deepEqual(Object.keys(actual), Object.keys(expected));
}

test('unit: encode/decode round-trips every supported type exactly', (t) => {
  const value = samples();
  const decoded = decode<Record<string, unknown>>(encode(value));
  assertExact(t as never, decoded, value);
});

test('unit: a Buffer stays a Buffer and a Uint8Array stays a Uint8Array', (t) => {
  const decoded = decode<[unknown, unknown]>(encode([Buffer.from([1, 2]), new Uint8Array([1, 2])]));
  t.true(Buffer.isBuffer(decoded[0]));
  t.false(Buffer.isBuffer(decoded[1]));
  t.true(decoded[1] instanceof Uint8Array);
});

test('unit: a Buffer stays a Buffer when the bytes arrive as a plain Uint8Array (across a MessagePort, nested in CBOR)', (t) => {
  const bytes = encode({ b: Buffer.from('x') });
  const plain = new Uint8Array(bytes.byteLength);
  plain.set(bytes);
  t.true(Buffer.isBuffer(decode<{ b: unknown }>(plain).b));
  const nested = decode<Uint8Array>(encode(plain));
  t.false(Buffer.isBuffer(nested), 'a tagged Uint8Array');
  t.true(Buffer.isBuffer(decode<{ b: unknown }>(nested).b));
});

test('unit: top-level undefined, null and primitives', (t) => {
  for (const value of [undefined, null, 0, 'text', true, 12345678901234567890n, Number.NaN, Number.NEGATIVE_INFINITY]) {
    t.deepEqual(decode(encode(value)), value);
  }
});

test('unit: a plain -0 arrives as 0 (cbor-x writes integral numbers as CBOR integers; documented)', (t) => {
  t.true(Object.is(decode(encode(-0)), 0));
  t.true(Object.is(decode<Float64Array>(encode(new Float64Array([-0])))[0], -0));
});

test('unit: encoded bytes decode in any process (no shared record structures)', (t) => {
  const bytes = encode([{ a: 1, b: 2 }, { a: 3, b: 4 }]);
  // A fresh decoder with no state from this encoder would fail on record references; ours
  // writes plain maps, so the bytes are self-contained CBOR.
  t.false(Buffer.from(bytes).includes(Buffer.from([0xd9, 0xdf])), 'no record tags');
  t.deepEqual(decode(bytes), [{ a: 1, b: 2 }, { a: 3, b: 4 }]);
});

test('unit: malformed bytes throw, they do not hang or return garbage silently', (t) => {
  t.throws(() => decode(new Uint8Array([0x9f])));
  t.throws(() => decode(new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff])));
});

test('unit: an Error value keeps its class, name, message, stack, cause and own fields', (t) => {
  class ParseFailure extends Error {
    readonly line = 7;
    constructor(message: string) {
      super(message, { cause: new RangeError('column 3') });
      this.name = 'ParseFailure';
    }
  }
  const original = new ParseFailure('bad token');
  const error = decode<Error & { line: number }>(encode({ nested: [original] })) as unknown as { nested: [Error & { line: number }] };
  const back = error.nested[0];
  t.true(back instanceof Error);
  t.is(back.name, 'ParseFailure');
  t.is(back.message, 'bad token');
  t.is(back.stack, original.stack);
  t.is(back.line, 7);
  t.true(back.cause instanceof RangeError);
  t.is((back.cause as Error).message, 'column 3');
  const live = Object.assign(new Error('request failed'), { status: 503, request: new (class Request {})(), retry: () => 1 });
  const sent = decode<Error & Record<string, unknown>>(encode(live));
  t.is(sent.status, 503);
  t.false('request' in sent || 'retry' in sent, 'live objects on an error stay behind');
  const typeError = decode<Error>(encode(new TypeError('not a number')));
  t.true(typeError instanceof TypeError);
  t.is(typeError.name, 'TypeError');
});

test('integration: every value round-trips through a real task (identity function) exactly', async (t) => {
  const node: KsNode = await startNode({ name: 'codec', workers: 2 });
  t.teardown(() => node.stop());
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const value = samples();
  const identity = (x: unknown) => x;
  // As one argument, as many arguments, and each key as its own call.
  c.bc(identity, value);
  for (const key of Object.keys(value)) c.bc(identity, value[key]);
  c.bc((...args: unknown[]) => args, undefined, null, undefined);
  const results = await c.br();
  assertExact(t as never, results[0] as Record<string, unknown>, value);
  const perKey = Object.fromEntries(Object.keys(value).map((key, i) => [key, results[i + 1]]));
  assertExact(t as never, perKey, value);
  t.deepEqual(results.at(-1), [undefined, null, undefined]);

  // Values built on the node arrive exactly too.
  const built = await c.call(() => ({
    map: new Map([[1, new Set([2n])]]),
    date: new Date(86_400_000),
    bytes: new Float64Array([1, -0]),
    buffer: Buffer.from('node made'),
    missing: undefined,
  }));
  t.deepEqual(built, { map: new Map([[1, new Set([2n])]]), date: new Date(86_400_000), bytes: new Float64Array([1, -0]), buffer: Buffer.from('node made'), missing: undefined });
  t.true(Buffer.isBuffer(built.buffer));
  t.true(Object.hasOwn(built, 'missing'));

  // An error returned (not thrown) is a value: it arrives with its class, name and remote stack.
  const returned = await c.call(() => {
    class QuotaExceeded extends Error {
      code = 'QUOTA';
    }
    const quota = new QuotaExceeded('over quota');
    quota.name = 'QuotaExceeded';
    return [new TypeError('wrong type'), quota];
  });
  t.true(returned[0] instanceof TypeError);
  t.is(returned[0].message, 'wrong type');
  t.regex(returned[0].stack!, /^TypeError: wrong type\n/);
  t.notRegex(returned[0].stack!, /cbor-x|codec/, 'the stack is the remote one, not where it was decoded');
  t.like(returned[1], { name: 'QuotaExceeded', message: 'over quota', code: 'QUOTA' });
});

test('integration: large results (inline, stored in Redis, and kept on the node\'s disk) round-trip', async (t) => {
  const node: KsNode = await startNode({ name: 'codec-large', workers: 2 });
  t.teardown(() => node.stop());
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  // 64 KiB and less travel in events, up to 256 KiB through Redis, above that from the disk.
  const sizes = [10, 60 * 1024, 200 * 1024, 3 * 1024 * 1024];
  for (const size of sizes) {
    c.bc((n: number) => {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 31) % 251;
      return { n, bytes, text: 'y'.repeat(n) };
    }, size);
  }
  const results = (await c.br()) as { n: number; bytes: Uint8Array; text: string }[];
  results.forEach((result, k) => {
    const n = sizes[k];
    t.is(result.n, n);
    t.is(result.text.length, n);
    t.is(result.bytes.length, n);
    t.true(result.bytes.every((b, i) => b === (i * 31) % 251), `bytes of ${n}`);
  });
});

test('unit: encodeLargeBuffer writes exactly what encode writes for a large Buffer, in a buffer of its own', (t) => {
  for (const value of [Buffer.alloc(5000, 3), Buffer.alloc(70_000, 4), Buffer.alloc(3 << 20, 5).subarray(7)]) {
    const own = encodeLargeBuffer(value)!;
    t.deepEqual(Buffer.from(own), Buffer.from(encode(value)));
    t.is(own.byteOffset, 0);
    t.is(own.buffer.byteLength, own.byteLength);
    t.true(Buffer.isBuffer(decode(own)));
  }
  for (const value of [Buffer.alloc(10, 1), new Uint8Array(9000), { a: Buffer.alloc(5000) }, 42, 'text']) t.is(encodeLargeBuffer(value), undefined);
});
