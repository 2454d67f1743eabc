/**
 * What an executor claims: beyond its free threads only jobs of functions it knows to be
 * short, and a claimed job's copies in other queues leave those queues.
 */
import test from 'ava';
import { Client, dr, type RemoteData } from '../index.js';
import { startCluster, type KsNode, type SharedCluster } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let cluster: SharedCluster;
let p1: KsNode;
let p2: KsNode;
let c: Client;

test.before(async () => {
  cluster = await startCluster([{ name: 'p1', workers: 2 }, { name: 'p2', workers: 1 }]);
  [p1, p2] = cluster.nodes;
  c = new Client(p1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await cluster?.stop();
});

const noop = (x: number) => x;
const sleepOn = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  const { taskContext } = await import('kitchensink');
  return taskContext().node.name;
};

/** Many no-ops through every node, so each knows `noop` is short and prefetches it. */
async function warmUp(): Promise<void> {
  for (const node of ['p1', 'p2']) {
    for (let i = 0; i < 300; i++) c.bcWith({ queue: `default|${node}` }, noop, i);
  }
  await c.br();
}

test.serial('a long job is not held behind another on a busy thread while a thread is idle, nor kept from another node', async (t) => {
  await warmUp();
  // Through p1 (2 threads, prefetching no-ops): four 1-second sleeps of a function no node has run.
  // Two run on p1's threads, one on p2's; none waits behind another where a thread is free.
  const started = Date.now();
  c.bc(noop, 1);
  c.bc(noop, 2);
  for (let i = 0; i < 3; i++) c.bc(sleepOn, 1000);
  for (let i = 0; i < 8; i++) c.bc(noop, i);
  const results = await c.br();
  const elapsed = Date.now() - started;
  t.deepEqual(results.slice(0, 2), [1, 2]);
  t.deepEqual(results.slice(5), [0, 1, 2, 3, 4, 5, 6, 7]);
  const places = (results.slice(2, 5) as string[]).sort();
  t.deepEqual(places, ['p1', 'p1', 'p2'], 'each sleep on a thread of its own, on both nodes');
  t.true(elapsed < 1900, `three 1-second sleeps on three threads took ${elapsed} ms`);
});

test.serial('a job claimed through one queue leaves its other queues, so they count only waiting jobs', async (t) => {
  // p2's only thread is busy: the call below, whose data p1 holds, is queued on p1 and on p2
  // (its second choice); it runs on p1, and its copy must not linger in p2's queue.
  c.bcWith({ queue: 'default|p2' }, sleepOn, 4000);
  const [busy] = await c.execute();
  t.teardown(async () => {
    await c.cancel(busy).catch(() => undefined);
    await c.br().catch(() => undefined);
  });
  await eventually(async () => (await c.status(busy)).status === 'running', 10_000, 'the sleep to start on p2');
  const data = dr(Buffer.alloc(1000, 1));
  data.rpcUrl = p1.url;
  await data.save({ prefix: 'prefetch' });
  // Sent through p2, whose threads are all busy, so the head does not start it itself.
  const viaP2 = new Client(p2.url, { output: 'silent' });
  t.teardown(() => viaP2.close());
  const where = await viaP2.call(async (d: RemoteData) => {
    await d.raw();
    const { taskContext } = await import('kitchensink');
    return taskContext().node.name;
  }, data);
  t.is(where, 'p1');
  t.deepEqual(await c.queueLengths(), {}, 'no copy of the finished call waits in p2\'s queue');
  await c.deleteData(data.dataUrl);
});
