/**
 * Routing options on three real nodes (one worker thread each): the data threshold per
 * client and per call, noRouteData, pinning to a host queue, and named queues with and
 * without data locality. Where each call may go is read from its job record (its queues, in
 * order of preference) and where it ran from `taskContext()`.
 */
import test from 'ava';
import { Client, dr, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const TASK_MS = 750;
const MB = 1_000_000;

let services: Services;
let n1: KsNode;
let n2: KsNode;
let n3: KsNode;
let c: Client;
/** 1 MB on n2 (a gpu node) and 1 MB on n1 (not a gpu node) */
let onN2: RemoteData;
let onN1: RemoteData;

test.before(async () => {
  services = await startServices();
  const gpu = ['--queue', 'default', '--queue', 'gpu', '--locality-wait', '250'];
  [n1, n2, n3] = await Promise.all([
    startNode({ name: 'n1', services, workers: 1, flags: ['--queue', 'default', '--locality-wait', '250'] }),
    startNode({ name: 'n2', services, workers: 1, flags: gpu }),
    startNode({ name: 'n3', services, workers: 1, flags: gpu }),
  ]);
  c = new Client(n1.url, { output: 'silent' });
  onN2 = dr(Buffer.alloc(MB, 2));
  onN2.rpcUrl = n2.url;
  await onN2.save({ prefix: 'routing' });
  onN1 = dr(Buffer.alloc(MB, 1));
  onN1.rpcUrl = n1.url;
  await onN1.save({ prefix: 'routing' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([n1, n2, n3].map((n) => n?.stop()));
  await services?.stop();
});

const where = async (ms: number, ..._data: RemoteData[]) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

/** Executes what `client` recorded; returns each job's queues (read before it finishes) and where it ran. */
async function run(client: Client): Promise<{ queues: string[][]; ran: string[] }> {
  const ids = await client.execute();
  const queues = await Promise.all(ids.map(async (id) => (await client.status(id)).queues as string[]));
  return { queues, ran: (await client.br()) as string[] };
}

test.serial('a client threshold below the data size: calls wait for the holder even while it is busy', async (t) => {
  const strict = new Client(n1.url, { output: 'silent', dataThreshold: MB / 2 });
  t.teardown(() => strict.close());
  for (let i = 0; i < 3; i++) strict.bc(where, TASK_MS, onN2);
  const { queues, ran } = await run(strict);
  t.deepEqual(queues, [['default|n2'], ['default|n2'], ['default|n2']]);
  t.deepEqual(ran, ['n2', 'n2', 'n2']);
});

test.serial('a per-call threshold: below the data size only the holder; above it every node, and it overrides the client\'s', async (t) => {
  for (let i = 0; i < 3; i++) c.bcWith({ dataThreshold: MB / 2 }, where, TASK_MS, onN2);
  const strict = await run(c);
  t.deepEqual(strict.ran, ['n2', 'n2', 'n2']);
  t.deepEqual(strict.queues[0], ['default|n2']);

  const client = new Client(n1.url, { output: 'silent', dataThreshold: 0 });
  t.teardown(() => client.close());
  for (let i = 0; i < 3; i++) client.bcWith({ dataThreshold: 2 * MB }, where, TASK_MS, onN2);
  const loose = await run(client);
  t.deepEqual(loose.queues[0], ['default|n2', 'default|n1', 'default|n3']);
  t.is(loose.ran[0], 'n2');
  t.deepEqual([...loose.ran].sort(), ['n1', 'n2', 'n3'], 'the busy holder is passed over for nodes within the threshold');
});

test.serial('the default threshold (200 MB) keeps every node a candidate', async (t) => {
  for (let i = 0; i < 3; i++) c.bc(where, TASK_MS, onN2);
  const { queues, ran } = await run(c);
  t.deepEqual(queues[0], ['default|n2', 'default|n1', 'default|n3']);
  t.deepEqual([...ran].sort(), ['n1', 'n2', 'n3']);
});

test.serial('noRouteData: the call goes to the shared queue, whatever its data', async (t) => {
  const strict = new Client(n1.url, { output: 'silent', dataThreshold: 0 });
  t.teardown(() => strict.close());
  for (let i = 0; i < 3; i++) strict.bcWith({ noRouteData: true }, where, TASK_MS, onN2);
  const { queues, ran } = await run(strict);
  t.deepEqual(queues, [['default'], ['default'], ['default']]);
  t.deepEqual([...ran].sort(), ['n1', 'n2', 'n3'], 'three idle one-thread nodes take one each');
});

test.serial('a call pinned to a host queue runs there, whatever its data', async (t) => {
  for (let i = 0; i < 3; i++) c.bcWith({ queue: 'default|n3' }, where, 10, onN2);
  const { queues, ran } = await run(c);
  t.deepEqual(queues, [['default|n3'], ['default|n3'], ['default|n3']]);
  t.deepEqual(ran, ['n3', 'n3', 'n3']);
});

test.serial('a named queue with data on one of its nodes: that node first, then the other gpu node, never a node without the queue', async (t) => {
  for (let i = 0; i < 3; i++) c.bcWith({ queue: 'gpu' }, where, TASK_MS, onN2);
  const { queues, ran } = await run(c);
  t.deepEqual(queues[0], ['gpu|n2', 'gpu|n3']);
  t.is(ran[0], 'n2');
  t.true(ran.includes('n3'), `the busy holder is passed over for the other gpu node: ${ran.join(', ')}`);
  t.false(ran.includes('n1'));
});

test.serial('a named queue with data on a node without the queue: only the queue\'s nodes', async (t) => {
  for (let i = 0; i < 3; i++) c.bcWith({ queue: 'gpu' }, where, TASK_MS, onN1);
  const { queues, ran } = await run(c);
  t.deepEqual(queues[0], ['gpu|n2', 'gpu|n3']);
  t.deepEqual([...new Set(ran)].sort(), ['n2', 'n3']);
});

test.serial('a named queue without data: its shared queue, served by its nodes only', async (t) => {
  for (let i = 0; i < 4; i++) c.bcWith({ queue: 'gpu' }, where, TASK_MS);
  const { queues, ran } = await run(c);
  t.deepEqual(queues, [['gpu'], ['gpu'], ['gpu'], ['gpu']]);
  t.deepEqual([...new Set(ran)].sort(), ['n2', 'n3']);
});
