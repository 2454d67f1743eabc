/**
 * A Redis Cluster of three masters made by the test (`redis-server --cluster-enabled yes` ×3 and
 * `redis-cli --cluster create`): two nodes on it, one named by a `redis+cluster://` url, the
 * other by `--redis-url redis://… --redis-cluster`, pass the core cases; every key of the
 * cluster lies in the slot of its hash tag `{ks}` (docs/scaling.md).
 */
import test from 'ava';
import { Cluster } from 'ioredis';
import { Client } from '../index.js';
import { startNodes, type KsNode, type Services } from './helpers/cluster.js';
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
  nodes = await startNodes([
    { name: 'rc-a', services, workers: 2, flags },
    { name: 'rc-b', workers: 2, flags: [...flags, '--redis-url', `redis://127.0.0.1:${redis.masters[1].port}`, '--redis-cluster', '--nats-url', services.natsUrl] },
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
  // Keys come and go while the nodes run (heartbeats, delivered jobs): each master's keys are
  // read with SCAN, and every key found must be of the cluster's base, in its slot, on its master.
  const found = new Map<number, string[]>();
  for (const master of cluster.nodes('master')) {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await master.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...page);
    } while (cursor !== '0');
    found.set(master.options.port!, keys);
  }
  const all = [...found.values()].flat();
  t.true(all.length > 5, `the nodes wrote keys (${all.length})`);
  t.deepEqual(all.filter((key) => !key.startsWith('{ks}:')), [], 'every key is under the base {ks}:');
  t.deepEqual([...found].filter(([, keys]) => keys.length > 0).length, 1, 'all on one master');
  const slots = new Set(await Promise.all(all.slice(0, 50).map(async (key) => Number(await cluster.call('CLUSTER', 'KEYSLOT', key)))));
  t.deepEqual([...slots], [slot], 'in the slot of {ks}');
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
