/**
 * A custom Scheduler given to `new Node({ scheduler })` in this process, imported from the
 * package as a user would: it sees every call (queue, data urls, the cluster's view) and
 * routes everything to a named queue that only this node serves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, dr, hostQueue, Node, Scheduler, type ClusterView, type RemoteData, type RoutableCall } from 'kitchensink';
import { freePort, startServices, type Services } from './helpers/cluster.js';

interface Seen {
  index: number;
  queue: string;
  dataUrls: readonly string[];
  nodes: string[];
  sizes: number[];
}

class SpecialQueueScheduler extends Scheduler {
  readonly seen: Seen[] = [];

  override route(call: RoutableCall, cluster: ClusterView): string[] {
    this.seen.push({
      index: call.index,
      queue: call.queue,
      dataUrls: call.dataUrls,
      nodes: cluster.nodes.map((n) => n.name),
      sizes: call.dataUrls.map((url) => cluster.data.size(url)),
    });
    return cluster.nodesServing('special').map((n) => hostQueue('special', n.name));
  }
}

let services: Services;
let node: Node;
let datadir: string;
const scheduler = new SpecialQueueScheduler();

test.before(async () => {
  process.env.KS_LOG_LEVEL ??= 'warn';
  services = await startServices();
  datadir = mkdtempSync(join(tmpdir(), 'ks-inproc-'));
  node = new Node({
    datadir,
    nodeName: 'inproc',
    nodeUrl: `http://127.0.0.1:${await freePort()}/`,
    redisUrl: services.redisUrl,
    natsUrl: services.natsUrl,
    numWorkers: 1,
    queues: ['default', 'special'],
    scheduler,
  });
  await node.start();
});

test.after.always(async () => {
  await node?.stop();
  await services?.stop();
  if (datadir) rmSync(datadir, { recursive: true, force: true });
});

test.serial('new Node({ scheduler }): every call is routed by the custom scheduler, which sees its queue, data and the cluster', async (t) => {
  t.is(node.scheduler, scheduler);
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const data = dr(Buffer.alloc(2048, 1));
  data.rpcUrl = node.url;
  await data.save({ prefix: 'inproc' });
  const where = async (..._data: RemoteData[]) => {
    const { taskContext } = await import('kitchensink');
    return taskContext().queue;
  };
  c.bc(where);
  c.bc(where, data);
  c.bcWith({ queue: 'default' }, where);
  const ids = await c.execute();
  t.deepEqual(await c.br(), ['special|inproc', 'special|inproc', 'special|inproc']);
  t.is(ids.length, 3);
  t.deepEqual(scheduler.seen, [
    { index: 0, queue: 'default', dataUrls: [], nodes: ['inproc'], sizes: [] },
    { index: 1, queue: 'default', dataUrls: [data.dataUrl], nodes: ['inproc'], sizes: [2048] },
    { index: 2, queue: 'default', dataUrls: [], nodes: ['inproc'], sizes: [] },
  ]);
});

test.serial('calls pinned to a host queue bypass the custom scheduler', async (t) => {
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const before = scheduler.seen.length;
  t.is(await c.callWith({ queue: 'default|inproc' }, async () => (await import('kitchensink')).taskContext().queue), 'default|inproc');
  t.is(scheduler.seen.length, before);
});
