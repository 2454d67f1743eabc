import test from 'ava';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import { Client } from '../index.js';
import { startNode, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';
import { collectOutcomes, servicesWithRedis, sideEffects } from './helpers/outcomes.js';

let redis: RedisServerProcess;
let services: Services;
let nodes: KsNode[] = [];
const runs = sideEffects();

test.before(async () => {
  // In memory only: a kill -9 and restart loses everything.
  redis = await startRedisServer();
  services = await servicesWithRedis(redis.url);
  nodes = await Promise.all(['loss-a', 'loss-b'].map((name) => startNode({ name, services, workers: 1 })));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  await redis?.stop();
  runs.remove();
});

const slow = async (dir: string, index: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  appendFileSync(`${dir}/runs`, `${taskContext().jobId}\n`);
  await new Promise((r) => setTimeout(r, 300));
  return index;
};

const LOST_DATA = /^job \S+ is lost: Redis lost its data \(epoch changed\)/;

test.serial('Redis restarted without its data: the nodes see the epoch change, waiting jobs are JobLost with that reason, every id gets one outcome', async (t) => {
  t.timeout(90_000);
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  for (let i = 0; i < 40; i++) c.bc(slow, runs.dir, i);
  const ids = await c.execute();
  const collecting = collectOutcomes(nodes[0].url, ids);
  await eventually(async () => runs.lines().length >= 2, 10_000, 'both nodes to run a job');
  // A second batch, submitted through the other node and collected later through the first:
  // that node never saw it acknowledged, and must still prove its jobs lost.
  const elsewhere = new Client(nodes[1].url, { output: 'silent' });
  t.teardown(() => elsewhere.close());
  for (let i = 0; i < 10; i++) elsewhere.bc(slow, runs.dir, 50 + i);
  const otherIds = await elsewhere.execute();
  await redis.kill9();
  const restartedAt = Date.now();
  await redis.restart();
  const outcomes = await collecting;
  const settledIn = Date.now() - restartedAt;

  // Every id has exactly one outcome: a result (it ran; its outcome travelled in its event) or
  // JobLost saying Redis lost its data. Nothing hangs, nothing is guessed.
  t.deepEqual(outcomes.duplicated, []);
  t.is(outcomes.done.size + outcomes.failed.size, ids.length);
  for (const [id, error] of outcomes.failed) {
    t.is(error.name, 'JobLost', id);
    t.regex(error.message, LOST_DATA);
  }
  t.true(outcomes.failed.size >= 20, `${outcomes.failed.size} jobs waiting in the lost Redis reported lost`);
  // Within a few heartbeats (coarse: a loaded machine).
  t.true(settledIn < 15_000, `outcomes settled ${settledIn} ms after the restart`);
  // Each node sees the loss (with its next heartbeat) and says so once.
  const lossLines = (node: KsNode) => node.output().split('\n').filter((line) => line.includes('Redis lost its data'));
  await eventually(() => nodes.every((node) => lossLines(node).length > 0), 5000, 'each node to log the loss');
  await new Promise((r) => setTimeout(r, 1500)); // a few more heartbeats: still one line each
  for (const node of nodes) t.is(lossLines(node).length, 1, `${node.name}: ${lossLines(node).join('\n')}`);
  const followed = await collectOutcomes(nodes[0].url, otherIds);
  t.is(followed.failed.size, otherIds.length, 'the second batch waited behind the first: all lost');
  for (const error of followed.failed.values()) t.regex(error.message, LOST_DATA);

  // A job reported lost never ran after the loss (it was not in Redis any more): only jobs
  // that had started before, at most one per thread and the one a node claimed as Redis went.
  const executed = new Set(runs.lines());
  t.true([...outcomes.failed.keys()].filter((id) => executed.has(id)).length <= 4);

  // The epoch is back (one value, re-created once) and the cluster works again: the nodes
  // registered themselves with their heartbeat.
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  t.regex((await admin.get('{ks}:epoch')) ?? '', /^[0-9a-f]{24}$/);
  await eventually(async () => (await c.hosts()).length === 2, 5000, 'both nodes registered again');
  const after = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => after.close());
  for (let i = 0; i < 4; i++) after.bc(slow, runs.dir, 100 + i);
  const again = await after.execute();
  t.deepEqual(await after.br(), [100, 101, 102, 103]);

  // Asked again (here through the other node, once the head deleted their records: it does
  // so within 20 ms), delivered outcomes are a fact too, not a wait.
  await eventually(async () => (await admin.exists(...again.map((id) => `{ks}:job:${id}`))) === 0, 5000, 'the delivered records to go');
  const reasked = await collectOutcomes(nodes[1].url, again);
  t.deepEqual([...reasked.failed.values()].map((e) => e.message.replace(/^job \S+ /, '')), again.map(() => 'is lost: its outcome was already delivered (to an earlier request for it), and its record deleted'));
});
