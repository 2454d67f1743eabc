/**
 * examples/gpu-scheduler.ts (a Router composing localityRouter) given to `ks start --router`: calls on the default queue go to
 * the nodes serving a `gpu` queue while there are any (by data locality among them), else
 * wherever data locality says.
 */
import test from 'ava';
import { Client, dr, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

const GPU_ROUTER = new URL('../examples/gpu-scheduler.js', import.meta.url).pathname;

let services: Services;
let gpu: KsNode;
let plain: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  const flags = ['--router', GPU_ROUTER];
  [gpu, plain] = await Promise.all([
    startNode({ name: 'gpu1', services, workers: 1, flags: [...flags, '--queue', 'default', '--queue', 'gpu'] }),
    startNode({ name: 'plain1', services, workers: 1, flags }),
  ]);
  c = new Client(plain.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([gpu, plain].map((n) => n?.stop()));
  await services?.stop();
});

const where = async (..._data: RemoteData[]) => (await import('kitchensink')).taskContext().node.name;

test.serial('with a gpu node live, default calls go to it, even when their data is elsewhere', async (t) => {
  const data = dr(Buffer.alloc(1000, 1));
  data.rpcUrl = plain.url;
  await data.save();
  c.bc(where);
  c.bc(where, data);
  const ids = await c.execute();
  t.deepEqual((await c.status(ids[1])).queues, ['gpu|gpu1']);
  t.deepEqual(await c.br(), ['gpu1', 'gpu1']);
});

test.serial('without a gpu node, calls are routed by their data', async (t) => {
  await gpu.stop();
  await eventually(async () => (await c.hosts()).length === 1, 10_000, 'gpu1 to leave');
  const data = dr(Buffer.alloc(1000, 2));
  data.rpcUrl = plain.url;
  await data.save();
  c.bc(where, data);
  const [id] = await c.execute();
  t.deepEqual((await c.status(id)).queues, ['default|plain1']);
  t.deepEqual(await c.br(), ['plain1']);
});
