/**
 * `new Node({ router })` in this process: the Router composes `localityRouter`, and sees a
 * read-only cluster view (frozen nodes and queues, data facts without their writer, no store
 * or bus); a Node refuses a scheduler and a router together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, dr, localityRouter, Node, Scheduler, type ClusterView, type RemoteData, type RoutableCall, type Router } from '../index.js';
import { freePort, startServices, type Services } from './helpers/cluster.js';

interface Seen {
  keys: string[];
  frozen: boolean[];
  writes: string[];
  holders: string[];
  byLocality: string[];
}

/** Tries each write a router might attempt on its view; returns the ones that took. */
function writesThatTook(cluster: ClusterView, url: string | undefined): string[] {
  const attempts: [string, () => void][] = [
    ['nodes.push', () => (cluster.nodes as unknown[]).push({})],
    ['node.name', () => { (cluster.nodes[0] as { name: string }).name = 'x'; }],
    ['node.queues.push', () => (cluster.nodes[0].queues as string[]).push('x')],
    ['nodesServing.push', () => (cluster.nodesServing('default') as unknown[]).push({})],
    ['cluster.data', () => { (cluster as { data: unknown }).data = {}; }],
    ['data.load', () => { (cluster.data as { load: unknown }).load = () => 0; }],
    ['holders.add', () => (cluster.data.holders(url ?? '') as Set<string>).add('x')],
  ];
  return attempts.flatMap(([name, write]) => {
    try {
      write();
      return [name];
    } catch {
      return [];
    }
  });
}

const seen: Seen[] = [];
const watching: Router = {
  route(call: RoutableCall, cluster: ClusterView) {
    const byLocality = localityRouter.route(call, cluster) as string[];
    seen.push({
      keys: Object.keys(cluster).sort(),
      frozen: [cluster, cluster.nodes, cluster.nodes[0], cluster.nodes[0].queues, cluster.data].map(Object.isFrozen),
      writes: writesThatTook(cluster, call.dataUrls[0]),
      holders: call.dataUrls.flatMap((url) => [...cluster.data.holders(url)]),
      byLocality,
    });
    return byLocality;
  },
};

let services: Services;
let node: Node;
let datadir: string;

test.before(async () => {
  process.env.KS_LOG_LEVEL ??= 'warn';
  services = await startServices();
  datadir = mkdtempSync(join(tmpdir(), 'ks-router-node-'));
  node = new Node({
    datadir,
    nodeName: 'routed',
    nodeUrl: `http://127.0.0.1:${await freePort()}/`,
    redisUrl: services.redisUrl,
    natsUrl: services.natsUrl,
    numWorkers: 1,
    router: watching,
  });
  await node.start();
});

test.after.always(async () => {
  await node?.stop();
  await services?.stop();
  if (datadir) rmSync(datadir, { recursive: true, force: true });
});

test.serial('new Node({ router }): the router composes localityRouter over a frozen view without store or bus', async (t) => {
  t.true(node.scheduler instanceof Scheduler, 'the default Scheduler, with the router');
  t.is((node.scheduler as Scheduler).router, watching);
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const data = dr(Buffer.alloc(1024, 3));
  data.rpcUrl = node.url;
  await data.save({ prefix: 'router-node' });
  const where = async (..._data: RemoteData[]) => (await import('kitchensink')).taskContext().queue;
  c.bc(where);
  c.bc(where, data);
  t.deepEqual(await c.br(), ['default', 'default|routed']);
  const expected = { keys: ['data', 'nodes', 'nodesServing'], frozen: [true, true, true, true, true], writes: [] };
  t.deepEqual(seen, [
    { ...expected, holders: [], byLocality: ['default'] },
    { ...expected, holders: ['routed'], byLocality: ['default|routed'] },
  ]);
});

test('a Node takes a scheduler or a router, not both', (t) => {
  t.throws(() => new Node({ datadir, scheduler: new Scheduler(), router: localityRouter }), { message: /a scheduler or a router, not both/ });
});
