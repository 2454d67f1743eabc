/**
 * A Redis Cluster of three masters made by the test (`redis-server --cluster-enabled yes` ×3 and
 * `redis-cli --cluster create`): two nodes on it, one named by a `redis+cluster://` url, the
 * other by `--redis-url redis://… --redis-cluster`, pass the core cases; every key of the
 * cluster lies in the slot of its hash tag `{ks}` (docs/scaling.md).
 */
import test from 'ava';
import { Cluster } from 'ioredis';
import { Client } from '../index.js';
import { startNode, type KsNode, type Services } from './helpers/cluster.js';
import { coreCases } from './helpers/core-cases.js';
import { servicesWithRedis } from './helpers/outcomes.js';
import { startRedisCluster, type RedisClusterProcesses } from '../benchmarks/lib/redis-topologies.js';

let redis: RedisClusterProcesses;
let services: Services;
let nodes: KsNode[] = [];

test.before(async () => {
  redis = await startRedisCluster(3);
  services = await servicesWithRedis(redis.url);
  const flags = ['--locality-wait', '250'];
  nodes = await Promise.all([
    startNode({ name: 'rc-a', services, workers: 2, flags }),
    startNode({ name: 'rc-b', workers: 2, flags: [...flags, '--redis-url', `redis://127.0.0.1:${redis.masters[1].port}`, '--redis-cluster', '--nats-url', services.natsUrl] }),
  ]);
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  await redis?.stop();
});

coreCases(test, 'Redis Cluster', () => [nodes[0], nodes[1]], ['rc-a', 'rc-b']);

test.serial('every key of the cluster lies in the one slot of {ks}, on one master', async (t) => {
  const cluster = new Cluster(redis.masters.map((m) => ({ host: '127.0.0.1', port: m.port })), { lazyConnect: true });
  cluster.on('error', () => undefined);
  t.teardown(() => cluster.disconnect());
  await cluster.connect();
  const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', '{ks}:'));
  let total = 0;
  const holders: number[] = [];
  for (const master of cluster.nodes('master')) {
    const size = await master.dbsize();
    total += size;
    if (size > 0) holders.push(master.options.port!);
  }
  const inSlot = Number(await cluster.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
  t.true(total > 5, `the nodes wrote keys (${total})`);
  t.is(inSlot, total, 'all of them in the slot of {ks}');
  t.is(holders.length, 1, 'so on one master');
  const sample = await cluster.nodes('master').find((m) => m.options.port === holders[0])!.scan('0', 'COUNT', 1000);
  t.true(sample[1].every((key) => key.startsWith('{ks}:')), sample[1].slice(0, 5).join(' '));
});

test.serial('membership works through the cluster: each node sees both, with live heartbeats', async (t) => {
  for (const node of nodes) {
    const c = new Client(node.url, { output: 'silent' });
    t.teardown(() => c.close());
    const hosts = await c.hosts();
    t.deepEqual(hosts.map((h) => h.name).sort(), ['rc-a', 'rc-b']);
    t.true(hosts.every((h) => Math.abs(h.heartbeat - Date.now()) < 5000));
  }
});
