import test from 'ava';
import { Client, dobj, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles } from './helpers/data.js';

let services: Services;
let n1: KsNode;
let n2: KsNode;
let n3: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [n1, n2, n3] = await Promise.all([
    startNode({ name: 'node1', services, workers: 1 }),
    startNode({ name: 'node2', services, workers: 1 }),
    startNode({ name: 'node3', services, workers: 1, flags: ['--read-only'] }),
  ]);
  c = new Client(n3.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([n1, n2, n3].map((n) => n?.stop()));
  await services?.stop();
});

const holdersOf = async (url: string) => (await c.dataInfo([url])).data[url].holders;

test.serial('a save from a task on the read-only node lands on one writable node (test_read_only)', async (t) => {
  c.bcWith({ queue: 'default|node3' }, async () => {
    const { dobj, taskContext } = await import('kitchensink');
    await dobj(null).save({ url: 'test_read_only' });
    return taskContext().node.name;
  });
  await c.execute();
  t.deepEqual(await c.br(), ['node3']);
  const holders = await holdersOf('test_read_only');
  t.false(holders.includes('node3'));
  t.is(holders.length, 1);
  t.deepEqual(dataFiles(n3.datadir), []);
});

test.serial('the read-only node serves data: reads through it, and its tasks read data it does not hold, registering nothing', async (t) => {
  const saved = dr(Buffer.alloc(300_000, 'ro'));
  saved.rpcUrl = n1.url;
  await saved.save({ url: 'ro/input' });

  const viaN3 = du('ro/input');
  viaN3.rpcUrl = n3.url;
  t.is((await viaN3.raw()).length, 300_000);

  const read = async (d: RemoteData<Buffer>) => {
    const { taskContext } = await import('kitchensink');
    return { node: taskContext().node.name, size: (await d.obj()).length, again: (await d.raw()).length };
  };
  t.deepEqual(await c.callWith({ queue: 'default|node3' }, read, du('ro/input')), { node: 'node3', size: 300_000, again: 300_000 });
  t.deepEqual(await holdersOf('ro/input'), ['node1']);
  t.deepEqual(dataFiles(n3.datadir), []);
});

test.serial('an upload sent to the read-only node is passed on to a writable node', async (t) => {
  const data = dobj({ from: 'a client of node3' });
  data.rpcUrl = n3.url;
  await data.save({ url: 'ro/uploaded' });
  const holders = await holdersOf('ro/uploaded');
  t.is(holders.length, 1);
  t.true(['node1', 'node2'].includes(holders[0]));
  t.deepEqual(dataFiles(n3.datadir), []);
  const back = du('ro/uploaded');
  back.rpcUrl = n3.url;
  t.deepEqual(await back.obj(), { from: 'a client of node3' });
});

test.serial('pipeline() copies to every writable node and skips the read-only one; hosts() shows it read-only', async (t) => {
  const data = dr(Buffer.alloc(10_000, 1));
  data.rpcUrl = n1.url;
  await data.save({ url: 'ro/replicated' });
  const report = await data.pipeline();
  t.deepEqual(report, { holders: ['node1', 'node2'], failed: {} });
  t.deepEqual(dataFiles(n3.datadir), []);
  t.deepEqual((await c.hosts()).map((h) => [h.name, h.readOnly]), [['node1', false], ['node2', false], ['node3', true]]);
});
