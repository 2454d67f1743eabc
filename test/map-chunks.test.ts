import test from 'ava';
import { Client, KsError, RemoteError, type OutputEvent } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'map-chunks', workers: 2 });
});

test.after.always(async () => {
  await node?.stop();
});

const square = (x: number) => x * x;

test('map with chunkSize: one result per item, in item order, chunks as jobs', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  const items = Array.from({ length: 1003 }, (_, i) => i);
  t.deepEqual(await c.map(square, items, { chunkSize: 100 }), items.map(square));
  // results that are arrays stay arrays (only the chunks are flattened)
  t.deepEqual(await c.map((x: number) => [x, x], [1, 2, 3], { chunkSize: 2 }), [[1, 1], [2, 2], [3, 3]]);
  // an async function is awaited on each item, in order
  const slowFirst = async (x: number) => {
    await new Promise((r) => setTimeout(r, x === 0 ? 50 : 0));
    return x;
  };
  t.deepEqual(await c.map(slowFirst, [0, 1, 2, 3], { chunkSize: 4 }), [0, 1, 2, 3]);
});

test('chunkSize larger than the items, chunkSize 1, no items', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  t.deepEqual(await c.map(square, [1, 2, 3], { chunkSize: 1000 }), [1, 4, 9]);
  t.deepEqual(await c.map(square, [1, 2, 3], { chunkSize: 1 }), [1, 4, 9]);
  t.deepEqual(await c.map(square, [], { chunkSize: 10 }), []);
});

test('a chunk runs as one job', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  const jobIds = await c.map(async () => (await import('kitchensink')).taskContext().jobId, [0, 1, 2, 3, 4], { chunkSize: 2 });
  t.is(new Set(jobIds).size, 3);
  t.is(jobIds[0], jobIds[1]);
  t.not(jobIds[1], jobIds[2]);
});

test('a failing item throws a RemoteError that names its index in the map', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  const failOn7 = (x: number) => {
    if (x === 7) throw new RangeError(`bad ${x}`);
    return x;
  };
  const error = await t.throwsAsync(c.map(failOn7, Array.from({ length: 10 }, (_, i) => i), { chunkSize: 3 }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'RangeError');
  t.is(error!.message, 'map item 7: bad 7');
  t.regex(error!.remoteStack!, /^RangeError: map item 7: bad 7\n/);
  // the client is usable afterwards
  t.deepEqual(await c.map(square, [2], { chunkSize: 2 }), [4]);
});

test('chunkSize must be a positive integer', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  for (const chunkSize of [0, -1, 1.5, Number.NaN]) {
    await t.throwsAsync(c.map(square, [1], { chunkSize }), { instanceOf: KsError });
  }
});

test("output of every item in a chunk is still forwarded, under the chunk's job", async (t) => {
  const seen: OutputEvent[] = [];
  const c = new Client(node.url, { output: (e) => seen.push(e) });
  t.teardown(() => c.close());
  const results = await c.map(
    (x: number) => {
      console.log(`item ${x}`);
      return x;
    },
    [0, 1, 2, 3],
    { chunkSize: 2 },
  );
  t.deepEqual(results, [0, 1, 2, 3]);
  const lines = seen.flatMap((e) => e.text.split('\n').filter(Boolean));
  t.deepEqual([...lines].sort(), ['item 0', 'item 1', 'item 2', 'item 3']);
  t.is(new Set(seen.map((e) => e.jobId)).size, 2);
});
