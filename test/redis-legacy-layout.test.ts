/**
 * Keys of the layout before hash tags (`ks:*`, `P:ks:*`) are moved to the hash-tagged base
 * (`{ks}:*`, `{P}:ks:*`) by the first node that starts on them, TTLs and all, so the data
 * catalog, history and the cluster's epoch survive the upgrade (docs/scaling.md "Key
 * layout"); a node refuses to start while a node of the old layout still beats there.
 */
import test from 'ava';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import { Client } from '../index.js';
import { startNode, type KsNode, type Services } from './helpers/cluster.js';
import { servicesWithRedis } from './helpers/outcomes.js';
import { rawRedis } from './helpers/raw-redis.js';

let redis: RedisServerProcess;
let services: Services;
const nodes: KsNode[] = [];

test.before(async () => {
  redis = await startRedisServer();
  services = await servicesWithRedis(redis.url);
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  await redis?.stop();
});

const EPOCH = '0123456789abcdef01234567';

/** What a stopped cluster of the old layout left: catalog, history, an epoch, a job with a TTL, a stopped node. */
async function plantOldCluster(base: string): Promise<void> {
  const raw = rawRedis(redis.url);
  try {
    await raw.set(`${base}epoch`, EPOCH);
    await raw.hset(`${base}data:info:old/table`, { state: 'ready', size: '3', sha256: 'a'.repeat(64), fmt: 'raw', created: '1', node: 'gone' });
    await raw.sadd(`${base}data:loc:old/table`, 'gone');
    await raw.hset(`${base}data:dirs`, 'old', '1');
    await raw.hset(`${base}nodes`, 'gone', JSON.stringify({ url: 'http://127.0.0.1:1/', queues: [] }));
    await raw.hset(`${base}job:b1-0`, { st: 'done', fn: 'x' });
    await raw.pexpire(`${base}job:b1-0`, 600_000);
  } finally {
    raw.disconnect();
  }
}

test.serial('a node moves the keys of the old layout to {ks}:, keeping values and TTLs; other clusters\' keys stay', async (t) => {
  await plantOldCluster('ks:');
  const raw = rawRedis(redis.url, t);
  await raw.set('ks:ks:epoch', 'of the cluster with prefix ks');
  await raw.set('other:ks:epoch', 'of the cluster with prefix other');

  const node = await startNode({ name: 'upgraded', services, env: { KS_LOG_LEVEL: 'warn' } });
  nodes.push(node);
  t.regex(node.output(), /moved 6 Redis keys of the layout before hash tags \(ks:\*\) to \{ks\}:\*/);
  t.deepEqual((await raw.keys('ks:*')).sort(), ['ks:ks:epoch'], 'only the prefixed cluster\'s key is left under ks:');
  t.is(await raw.get('other:ks:epoch'), 'of the cluster with prefix other');
  t.is(await raw.get('{ks}:epoch'), EPOCH, 'the epoch moved: the node saw no data loss');
  t.is(await raw.hget('{ks}:data:info:old/table', 'state'), 'ready');
  t.deepEqual(await raw.smembers('{ks}:data:loc:old/table'), ['gone']);
  const ttl = await raw.pttl('{ks}:job:b1-0');
  t.true(ttl > 500_000 && ttl <= 600_000, `the job record kept its TTL (${ttl} ms)`);

  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc((x: number) => x * 2, 21);
  t.deepEqual(await c.br(), [42], 'the node works on the new layout');
  t.true((await raw.keys('{ks}:nodes')).length === 1 && (await raw.hexists('{ks}:nodes', 'upgraded')) === 1);
  t.deepEqual(await raw.keys('ks:job:*'), [], 'nothing is written under the old layout');
});

test.serial('with --prefix P the keys move from P:ks: to {P}:ks:', async (t) => {
  await plantOldCluster('pp:ks:');
  const node = await startNode({ name: 'upgraded-p', services, flags: ['--prefix', 'pp'] });
  nodes.push(node);
  const raw = rawRedis(redis.url, t);
  t.deepEqual(await raw.keys('pp:ks:*'), []);
  t.is(await raw.get('{pp}:ks:epoch'), EPOCH);
  t.is(await raw.hget('{pp}:ks:data:info:old/table', 'state'), 'ready');
});

test.serial('a node refuses to start while a node of the old layout still beats there, and moves nothing', async (t) => {
  await plantOldCluster('live:ks:');
  const raw = rawRedis(redis.url, t);
  await raw.hset('live:ks:nodes', 'still-running', '{}');
  await raw.set('live:ks:node:still-running', String(Date.now()), 'PX', 60_000);
  const error = await t.throwsAsync(startNode({ name: 'too-early', services, flags: ['--prefix', 'live'] }));
  t.regex(error!.message, /node still-running of an older version still runs there: stop every node of the older version, then start this one again/);
  t.is(await raw.get('live:ks:epoch'), EPOCH, 'the old keys are where they were');
  t.deepEqual(await raw.keys('{live}:*'), [], 'and nothing was written under the new base');
});
