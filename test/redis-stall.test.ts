import test from 'ava';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import { Client } from '../index.js';
import { startNode, type KsNode, type Services } from './helpers/cluster.js';
import { collectOutcomes, servicesWithRedis, sideEffects } from './helpers/outcomes.js';

let redis: RedisServerProcess;
let services: Services;
let nodes: KsNode[] = [];
const runs = sideEffects();

test.before(async () => {
  redis = await startRedisServer({ debug: true });
  services = await servicesWithRedis(redis.url);
  nodes = await Promise.all(['stall-a', 'stall-b'].map((name) => startNode({ name, services, workers: 2 })));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  await redis?.stop();
  runs.remove();
});

/** Records its run (job id) in the test's side-effect file, then returns its index. */
const recorded = async (dir: string, index: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  appendFileSync(`${dir}/runs`, `${taskContext().jobId}\n`);
  await new Promise((r) => setTimeout(r, 5));
  return index;
};

test.serial('DEBUG SLEEP 2.5 during a 200-job execute() and while it runs: every result delivered, none lost, each run once', async (t) => {
  t.timeout(90_000);
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  // Redis stalls first, so the submit (and the head's polls of its tracker) wait behind it.
  const firstSleep = admin.call('DEBUG', 'SLEEP', '2.5');
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 200; i++) c.bc(recorded, runs.dir, i);
  const ids = await c.execute();
  await firstSleep;
  t.is(ids.length, 200);
  // A second stall while the jobs run and their outcomes are written.
  const secondSleep = admin.call('DEBUG', 'SLEEP', '2.5');
  const outcomes = await collectOutcomes(nodes[0].url, ids);
  await secondSleep;
  t.deepEqual([...outcomes.failed.entries()].slice(0, 3), [], 'no job reported failed or lost');
  t.is(outcomes.done.size, 200);
  t.deepEqual(ids.map((id) => outcomes.done.get(id)), ids.map((_, i) => i));
  t.deepEqual(outcomes.duplicated, []);
  const executed = runs.lines();
  t.is(executed.length, 200, 'each job ran exactly once');
  t.deepEqual([...new Set(executed)].sort(), [...ids].sort());
});
