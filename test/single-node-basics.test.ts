import test from 'ava';
import { Client, client, RemoteError, setupClient } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;
let c: Client;

test.before(async () => {
  node = await startNode({ name: 'basics', workers: 3, flags: ['--max-body', String(256 * 1024)] });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

const identity = (x: unknown) => x;
const sleep = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
};

test.serial('a dummy function returns its argument (the seed test)', async (t) => {
  c.bc(identity, 42);
  c.bc(identity, 'forty-two');
  c.bc(identity, { a: [1, 2, { b: null }] });
  const ids = await c.execute();
  t.is(ids.length, 3);
  t.deepEqual(await c.br(), [42, 'forty-two', { a: [1, 2, { b: null }] }]);
});

test.serial('three 1-second sleeps on a 3-worker node finish in under 2 s (the seed test)', async (t) => {
  const started = Date.now();
  for (let i = 0; i < 3; i++) c.bc(sleep, 1000);
  await c.execute();
  const results = await c.br();
  const elapsed = Date.now() - started;
  t.deepEqual(results, [1000, 1000, 1000]);
  t.true(elapsed >= 1000, `took ${elapsed} ms`);
  t.true(elapsed < 2000, `took ${elapsed} ms`);
});

test.serial('results come back in call order, whatever order the jobs finish in', async (t) => {
  for (const ms of [300, 10, 150, 0, 60]) c.bc(sleep, ms);
  await c.execute();
  t.deepEqual(await c.br(), [300, 10, 150, 0, 60]);
});

test.serial('br() collects every executed batch, and executes what is still recorded', async (t) => {
  c.bc(identity, 1);
  await c.execute();
  c.bc(identity, 2);
  await c.execute();
  c.bc(identity, 3); // recorded, not executed: br() sends it
  t.deepEqual(await c.br(), [1, 2, 3]);
  t.deepEqual(await c.br(), [], 'nothing left to collect');
});

test.serial('async functions and functions returning promises both resolve to their value', async (t) => {
  c.bc(async (x: number) => {
    await new Promise((r) => setTimeout(r, 20));
    return x + 1;
  }, 1);
  c.bc((x: number) => new Promise((resolve) => setTimeout(() => resolve(x * 10), 20)), 2);
  c.bc(function named(x: number) {
    return Promise.resolve(`named ${x}`);
  }, 3);
  t.deepEqual(await c.br(), [2, 20, 'named 3']);
});

test.serial('the aliases bulkCall/bulkResults behave like bc/br', async (t) => {
  c.bulkCall(identity, 'a');
  c.bulkCall(identity, 'b');
  t.deepEqual(await c.bulkResults(), ['a', 'b']);
});

test.serial('functions of every shape can be shipped: arrows, declarations, generators, methods', async (t) => {
  const methods = {
    triple(x: number) {
      return 3 * x;
    },
    async later(x: number) {
      return x;
    },
  };
  function declared(a: number, b: number) {
    return a - b;
  }
  function* generator() {
    yield 1;
  }
  c.bc(methods.triple, 5);
  c.bc(methods.later, 6);
  c.bc(declared, 10, 3);
  c.bc((...rest: number[]) => rest.length, 1, 2, 3, 4);
  c.bc(() => undefined);
  c.bc(generator);
  const results = await c.br();
  t.deepEqual(results.slice(0, 5), [15, 6, 7, 4, undefined]);
  // A generator object does not cross the wire as one; it arrives as a plain object.
  t.is(typeof results[5], 'object');
});

test.serial('a function is shipped once per execute(), however many calls use it', async (t) => {
  // ~40 kB of source; the node takes bodies of at most 256 kB (--max-body), so 100 calls fit
  // in one request only if the source travels once.
  const bulky = new Function('i', `const padding = '${'PADDING'.repeat(6000)}'; return padding.length + i;`) as (i: number) => number;
  t.true(bulky.toString().length > 40_000);
  for (let i = 0; i < 100; i++) c.bc(bulky, i);
  const ids = await c.execute();
  t.is(ids.length, 100);
  t.deepEqual(await c.br(), Array.from({ length: 100 }, (_, i) => 42_000 + i));
});

test.serial('a shipped function is compiled once per worker thread, not once per call', async (t) => {
  // State kept on the function object survives between calls only if the same compiled
  // function runs them: each thread counts 1, 2, 3, ... for its own calls.
  const counter = async function counted() {
    const self = counted as unknown as { calls?: number };
    self.calls = (self.calls ?? 0) + 1;
    const { threadId } = await import('node:worker_threads');
    await new Promise((r) => setTimeout(r, 5));
    return [threadId, self.calls];
  };
  for (let i = 0; i < 60; i++) c.bc(counter);
  const results = (await c.br()) as [number, number][];
  const byThread = new Map<number, number[]>();
  for (const [thread, count] of results) byThread.set(thread, [...(byThread.get(thread) ?? []), count]);
  t.true(byThread.size >= 1 && byThread.size <= 3, `${byThread.size} threads`);
  for (const counts of byThread.values()) {
    t.deepEqual([...counts].sort((a, b) => a - b), counts.map((_, i) => i + 1));
  }
  t.is(results.length, 60);
});

test.serial('call() runs one function through the queue and returns its result', async (t) => {
  t.is(await c.call((a: number, b: number) => a * b, 6, 7), 42);
  t.deepEqual(await c.call(async () => {
    const { taskContext } = await import('kitchensink');
    return taskContext().queue;
  }), 'default');
  const error = await t.throwsAsync(c.call(() => {
    throw new TypeError('from call');
  }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'TypeError');
});

test.serial('map() applies a function to every item, in order', async (t) => {
  t.deepEqual(await c.map((x: number) => x * x, [1, 2, 3, 4]), [1, 4, 9, 16]);
  t.deepEqual(await c.map((x: number) => x, []), []);
  c.bc(identity, 1);
  await t.throwsAsync(c.map(identity, [1]), { message: /map\(\) needs a client with no recorded or uncollected calls/ });
  t.deepEqual(await c.br(), [1]);
});

test.serial('ping() and hosts() describe the node', async (t) => {
  const pong = await c.ping();
  t.like(pong, { ok: true, node: 'basics', url: node.url });
  t.regex(pong.version, /^\d+\.\d+\.\d+/);
  const hosts = await c.hosts();
  t.is(hosts.length, 1);
  t.like(hosts[0], { name: 'basics', url: node.url, workers: 3, readOnly: false, queues: ['default', 'data'] });
  t.true(Math.abs(hosts[0].heartbeat - Date.now()) < 5000);
});

test.serial('setupClient() sets the default client that client() returns', async (t) => {
  const made = setupClient(node.url, { output: 'silent' });
  t.is(client(), made);
  t.is(await client().call(identity, 'default'), 'default');
  await made.close();
});

test.serial('execute() with nothing recorded sends nothing', async (t) => {
  t.deepEqual(await c.execute(), []);
});

test.serial('what cannot be shipped fails at the call site', (t) => {
  t.throws(() => c.bc(Math.max, 1, 2), { message: /native or bound/ });
  t.throws(() => c.bc(identity.bind(null), 1), { message: /native or bound/ });
  class Thing {}
  t.throws(() => c.bc(Thing as unknown as () => void), { message: /is a class; ship a function/ });
  t.throws(() => c.bc(42 as unknown as () => void), { message: /expected a function or a registered function's name/ });
  t.throws(() => c.bc(''), { message: /must not be empty/ });
});
