import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, KsError, RemoteError } from '../index.js';
import { encode } from '../src/codec.js';
import { startNode, type KsNode } from './helpers/cluster.js';

/** Only for `typeof window` in a shipped function: no such global on a node. */
declare const window: unknown;

let node: KsNode;
let scratch: string;

test.before(async () => {
  node = await startNode({ name: 'errors', workers: 2 });
  scratch = mkdtempSync(join(tmpdir(), 'ks-errors-'));
});

test.after.always(async () => {
  await node?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function newClient(t: { teardown(fn: () => unknown): void }): Client {
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  return c;
}

/** After every failure the node must still run a plain call. */
async function stillServes(c: Client): Promise<number> {
  return c.call((a: number, b: number) => a + b, 40, 2);
}

test.serial('br() throws a RemoteError with the remote name, message, stack and job id', async (t) => {
  const c = newClient(t);
  c.bc((x: number) => x, 1);
  c.bc(function failingFunction(n: number) {
    throw new RangeError(`n is ${n}`);
  }, 7);
  const ids = await c.execute();
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'RangeError');
  t.is(error!.message, 'n is 7');
  t.is(error!.jobId, ids[1]);
  t.regex(error!.remoteStack!, /^RangeError: n is 7\n\s+at failingFunction \(ks-function:failingFunction:\d+:\d+\)/);
  t.notRegex(error!.remoteStack!, /worker\.js|piscina/, 'kitchensink\'s own frames are left out');
  // The local stack shows the remote one first, then where it was received.
  t.regex(error!.stack!, /RemoteError \[RangeError\] in job .*: n is 7\n\s+remote stack:\n\s+RangeError: n is 7\n\s+at failingFunction/);
  t.regex(error!.stack!, /received at:/);
  t.is(await stillServes(c), 42);
});

test.serial('an error thrown deep in an async function keeps its name and every user frame', async (t) => {
  const c = newClient(t);
  const error = await t.throwsAsync(c.call(async function deepAsync() {
    await new Promise((r) => setTimeout(r, 5));
    const inner = () => {
      const e = new Error('custom failure');
      e.name = 'CustomError';
      throw e;
    };
    inner();
  }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'CustomError');
  t.regex(error!.remoteStack!, /at inner \(ks-function:deepAsync/);
  t.regex(error!.remoteStack!, /at deepAsync \(ks-function:deepAsync/);
});

test.serial('the first failure cancels the rest of the batch', async (t) => {
  const c = newClient(t);
  const marker = join(scratch, 'sibling');
  const sibling = async (path: string, ms: number) => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${path}-started`, '');
    await new Promise((r) => setTimeout(r, ms));
    writeFileSync(path, 'ran to its end');
    return 'sibling';
  };
  // Two threads: the slow sibling and the failing job run first; the third job takes the
  // failing job's thread, and the fourth waits until a thread is free.
  c.bc(sibling, `${marker}-0`, 1200);
  c.bc(async () => {
    await new Promise((r) => setTimeout(r, 100));
    throw new Error('first failure');
  });
  c.bc(sibling, `${marker}-2`, 1200);
  c.bc(sibling, `${marker}-3`, 0);
  const ids = await c.execute();
  await t.throwsAsync(c.br(), { instanceOf: RemoteError, message: 'first failure' });
  const statusOf = async (id: string) => ((await c.status(id)) as { status: string }).status;
  for (const i of [0, 2, 3]) t.is(await statusOf(ids[i]), 'cancelled', `job ${i}`);
  // Past the time the running siblings would have written their files.
  await new Promise((r) => setTimeout(r, 1800));
  t.true(existsSync(`${marker}-0-started`));
  t.false(existsSync(`${marker}-0`), 'the running sibling was stopped');
  t.false(existsSync(`${marker}-2`), 'the sibling that started after the failure was stopped');
  t.false(existsSync(`${marker}-3-started`), 'the sibling still waiting for a thread never started');
  t.is(await stillServes(c), 42);
});

test.serial('a thrown string or object gives a clear error', async (t) => {
  const c = newClient(t);
  const asString = await t.throwsAsync(c.call(() => {
    // eslint-disable-next-line no-throw-literal
    throw 'plain string';
  }), { instanceOf: RemoteError });
  t.is(asString!.remoteName, 'NonErrorThrown');
  t.is(asString!.message, 'a non-Error value was thrown: plain string');

  const asObject = await t.throwsAsync(c.call(() => {
    throw { code: 42, reason: 'object' };
  }), { instanceOf: RemoteError });
  t.is(asObject!.remoteName, 'NonErrorThrown');
  t.is(asObject!.message, 'a non-Error value was thrown: {"code":42,"reason":"object"}');

  const asUndefined = await t.throwsAsync(c.call(async () => {
    await Promise.resolve();
    throw undefined;
  }), { instanceOf: RemoteError });
  t.is(asUndefined!.message, 'a non-Error value was thrown: undefined');

  const rejected = await t.throwsAsync(c.call(() => Promise.reject(null)), { instanceOf: RemoteError });
  t.is(rejected!.message, 'a non-Error value was thrown: null');

  const circular = await t.throwsAsync(c.call(() => {
    const value: Record<string, unknown> = { name: 'loop' };
    value.self = value;
    throw value;
  }), { instanceOf: RemoteError });
  t.is(circular!.remoteName, 'NonErrorThrown');
  t.regex(circular!.message, /^a non-Error value was thrown: /);
  t.is(await stillServes(c), 42);
});

test.serial('a function whose source does not compile fails at execute() with compile_error', async (t) => {
  // Function.prototype.toString always yields valid source, so the request is built by hand,
  // the way any HTTP client could send it, with the right sha256 of the broken source.
  const source = 'function broken(a) { return a +* 2 }';
  const sha = createHash('sha256').update(source).digest('hex');
  const body = encode({ fns: { [sha]: { name: 'broken', source } }, calls: [{ fn: sha, args: encode([1]) }] });
  const response = await fetch(new URL('rpc/bulkcall', node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
  t.is(response.status, 400);
  const answer = (await response.json()) as { error: string; code: string };
  t.is(answer.code, 'compile_error');
  t.regex(answer.error, /function broken does not compile: SyntaxError: Unexpected token/);

  // The same through /rpc/call (what call() uses), queued and direct.
  for (const query of ['', '?async=false']) {
    const viaCall = await fetch(new URL(`rpc/call/broken${query}`, node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
    t.is(viaCall.status, 400, `rpc/call${query}`);
    t.like(await viaCall.json(), { code: 'compile_error' });
  }
  t.is(await stillServes(newClient(t)), 42);
});

test.serial('a shipped function using a variable from its closure fails at execute() naming it', async (t) => {
  const c = newClient(t);
  const secret = 42;
  const other = 'x';
  for (const send of [
    () => c.call(function usesClosure() {
      return secret * 2;
    }),
    () => c.callWith({ async: false }, function usesClosure() {
      return secret * 2;
    }),
  ]) {
    const error = await t.throwsAsync(send(), { instanceOf: KsError });
    t.is(error!.code, 'compile_error');
    t.is(error!.message, 'function usesClosure uses variables it does not declare: secret. Shipped functions travel as source, so they cannot use variables from the scope they were written in; pass captured values as arguments');
  }
  // Every captured name is listed.
  c.bc((x: number) => x, 1);
  c.bc(() => `${secret}${other}`);
  const both = await t.throwsAsync(c.execute(), { instanceOf: KsError, message: /uses variables it does not declare: secret, other\. / });
  t.is(both!.code, 'compile_error');
  t.deepEqual(await c.br(), [], 'nothing of the refused batch was submitted');
  // The fix the message suggests works.
  t.is(await c.call((value: number) => value * 2, secret), 84);
  t.is(await stillServes(c), 42);
});

test.serial('functions using only globals, their own names and parameters pass the closure check', async (t) => {
  const c = newClient(t);
  c.bc(async () => {
    const timer = await new Promise((resolve) => setTimeout(() => resolve('timer'), 1));
    console.log('to the captured console');
    const text = new TextDecoder().decode(new TextEncoder().encode('utf8'));
    const copy = structuredClone({ deep: [1] });
    return [Buffer.from('ab').length, typeof process.pid, Math.max(1, 2), typeof fetch, new URL('http://h/p').pathname, text, copy, timer];
  });
  c.bc(function factorial(n: number): number {
    return n <= 1 ? 1 : n * factorial(n - 1);
  }, 5);
  c.bc(({ a, b: [first, ...rest] }: { a: number; b: number[] }, ...more: number[]) => a + first + rest.length + more.length, { a: 1, b: [10, 20, 30] }, 7);
  c.bc(() => {
    class Counter {
      static start = 1;
      #count = Counter.start;
      next() {
        return ++this.#count;
      }
    }
    const Named = class Inner {
      self() {
        return Inner.name;
      }
    };
    let total = 0;
    outer: for (const n of [1, 2, 3]) {
      try {
        if (n === 3) break outer;
        total += hoisted(n);
      } catch (error) {
        return error;
      }
    }
    function hoisted(n: number): number {
      return n * new Counter().next();
    }
    return { total, name: new Named().self(), key: { total }.total, [Symbol.toStringTag]: 'x' }.name + total;
  });
  c.bc(() => (typeof window === 'undefined' ? 'no window' : 'window'));
  // A name tested with typeof is feature detection, even where it is also used.
  c.bc(() => String(typeof window !== 'undefined' ? window : 'still no window'));
  c.bc(async () => (await import('node:path')).posix.join('a', 'b'));
  t.deepEqual(await c.br(), [
    [2, 'number', 2, 'function', '/p', 'utf8', { deep: [1] }, 'timer'],
    120,
    1 + 10 + 2 + 1,
    'Inner6',
    'no window',
    'still no window',
    'a/b',
  ]);
  t.is(await c.callWith({ async: false }, function named() {
    return typeof named;
  }), 'function');
  t.is(await stillServes(c), 42);
});

test.serial('an Error whose name, message or stack is not a string gives a RemoteError with string fields', async (t) => {
  const c = newClient(t);
  type Thrower = () => never;
  // Each sets one field to something odd; the node must report strings and keep serving.
  const cases: [string, Thrower, { name: string; message: string | RegExp; stack?: 'absent' | RegExp }][] = [
    ['message undefined', () => {
      const e = new Error('x');
      (e as { message: unknown }).message = undefined;
      throw e;
    }, { name: 'Error', message: '', stack: /^Error\n\s+at / }],
    ['message 123', () => {
      const e = new Error('x');
      (e as { message: unknown }).message = 123;
      throw e;
    }, { name: 'Error', message: '123' }],
    ['message a symbol', () => {
      const e = new Error('x');
      (e as { message: unknown }).message = Symbol('sym');
      throw e;
    }, { name: 'Error', message: 'Symbol(sym)' }],
    ['stack 42', () => {
      const e = new TypeError('numeric stack');
      (e as { stack: unknown }).stack = 42;
      throw e;
    }, { name: 'TypeError', message: 'numeric stack', stack: 'absent' }],
    ['name an object', () => {
      const e = new Error('odd name');
      (e as { name: unknown }).name = {};
      throw e;
    }, { name: '[object Object]', message: 'odd name' }],
    ['a throwing getter on message', () => {
      const e = new Error('x');
      Object.defineProperty(e, 'message', {
        get() {
          throw new Error('getter');
        },
      });
      throw e;
    }, { name: 'Error', message: "(the error's message could not be read)" }],
    ['a throwing getter on name, message and stack', () => {
      class Hostile extends Error {
        override get name(): string {
          throw new Error('name');
        }
        override get message(): string {
          return { toString: () => { throw new Error('toString'); } } as unknown as string;
        }
      }
      // Its stack is formatted on first read, which reads the name: reading the stack throws too.
      throw new Hostile();
    }, { name: 'Error', message: '[object Object]', stack: 'absent' }],
    ['a Proxy whose every trap throws', () => {
      const trap = () => {
        throw new Error('trap');
      };
      throw new Proxy(new Error('p'), { get: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
    }, { name: 'NonErrorThrown', message: /^a non-Error value was thrown: / }],
  ];
  for (const [label, thrower, expected] of cases) {
    for (const async of [true, false]) {
      const error = await t.throwsAsync(c.callWith({ async }, thrower), { instanceOf: RemoteError }, label);
      const where = `${label} (async: ${async})`;
      t.is(typeof error!.remoteName, 'string', where);
      t.is(typeof error!.message, 'string', where);
      t.true(error!.remoteStack === undefined || typeof error!.remoteStack === 'string', where);
      t.is(error!.remoteName, expected.name, where);
      if (typeof expected.message === 'string') t.is(error!.message, expected.message, where);
      else t.regex(error!.message, expected.message, where);
      if (expected.stack === 'absent') t.is(error!.remoteStack, undefined, where);
      else if (expected.stack) t.regex(error!.remoteStack!, expected.stack, where);
      t.regex(error!.stack!, /remote stack:/, where);
      t.is(await stillServes(c), 42, where);
    }
  }
  // In a batch too: the failure is reported and the rest of the node keeps working.
  c.bc(() => {
    const e = new Error('x');
    (e as { message: unknown }).message = 123;
    throw e;
  });
  await t.throwsAsync(c.br(), { instanceOf: RemoteError, message: '123' });
  t.is(await stillServes(c), 42);
});

test.serial('errors from the node itself are KsErrors with a code and an HTTP status', async (t) => {
  const c = newClient(t);
  c.bcWith({ queue: 'nobody-serves-this' }, (x: number) => x, 1);
  const error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(error!.code, 'no_route');
  t.is(error!.status, 409);
  t.regex(error!.message, /no live node serves queue "nobody-serves-this"/);
  const missing = await t.throwsAsync(c.status('0000000000000000000-00000'), { instanceOf: KsError });
  t.is(missing!.code, 'not_found');
  t.is(missing!.status, 404);
  t.is(await stillServes(c), 42);
});

test.serial('an error with a huge message is delivered (shortened) and the node survives it', async (t) => {
  const c = newClient(t);
  const error = await t.throwsAsync(c.call(() => {
    throw new Error(`huge ${'m'.repeat(3_000_000)}`);
  }), { instanceOf: RemoteError });
  t.regex(error!.message, /^huge m+… \(\d+ more characters\)$/);
  t.true(error!.message.length < 100_000);
  t.regex(error!.remoteStack!, /^Error: huge m+/);
  t.true(error!.remoteStack!.length < 200_000);
  t.is(await stillServes(c), 42);
});

test.serial('a value that cannot cross the wire gives a clear error, as a result or as an argument', async (t) => {
  const c = newClient(t);
  const result = await t.throwsAsync(c.call(() => ({ callback: () => 1 })), { instanceOf: RemoteError });
  t.is(result!.remoteName, 'TypeError');
  t.regex(result!.message, /^cannot send this value as CBOR: Unknown type: function \(functions and symbols do not cross the wire/);
  c.bc((x: unknown) => x, Symbol('local'));
  await t.throwsAsync(c.execute(), { instanceOf: TypeError, message: /^cannot send this value as CBOR: Unknown type: symbol/ });
  t.is(await stillServes(c), 42);
});
