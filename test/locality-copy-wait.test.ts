/**
 * Delay scheduling weighs the copy (architecture §5): a node that must copy a call's data takes
 * it only after waiting as long as that copy would take (`--locality-copy-rate`), so a holder
 * that is about to be free keeps its work, and a holder with a long queue still shares it.
 * Two real nodes of one thread each and a copy rate of 1 MB/s: with 8 MB on node1 the other node
 * may take a call 8 s after it was submitted, with 2 MB after 2 s (the plain --locality-wait is
 * 50 ms). Both threads run a call first, so that no thread's start-up counts as a busy holder.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { Client, dr, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let nodes: KsNode[] = [];
let c: Client;
let big: RemoteData<Buffer>;
let small: RemoteData<Buffer>;

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['node1', 'node2'].map((name) =>
    startNode({ name, services, workers: 1, flags: ['--locality-copy-rate', '1MB'] })));
  c = new Client(nodes[0].url, { output: 'silent' });
  big = dr(randomBytes(8_000_000));
  small = dr(randomBytes(2_000_000));
  for (const d of [big, small]) {
    d.rpcUrl = nodes[0].url;
    await d.save();
  }
  for (const node of nodes) c.bcWith({ queue: `default|${node.name}` }, (x: number) => x, 1);
  await c.br();
});

test.after.always(async () => {
  await c?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

/** Where the task ran; it does not read the data, so nothing is ever copied. */
const where = async (ms: number, _data: RemoteData<Buffer>) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

test.serial('short calls all wait for the holder: it is free again long before a copy would be done', async (t) => {
  for (let i = 0; i < 6; i++) c.bc(where, 30, big);
  const ran = (await c.br()) as string[];
  t.deepEqual(ran, Array(6).fill('node1'), ran.join(', '));
});

test.serial('long calls are shared: once waiting has cost as much as the copy, the other node takes some', async (t) => {
  for (let i = 0; i < 4; i++) c.bc(where, 1500, small);
  const ran = (await c.br()) as string[];
  t.is(ran[0], 'node1', ran.join(', '));
  t.true(ran.includes('node2'), ran.join(', '));
});
