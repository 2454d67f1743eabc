import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { Redis } from 'ioredis';
import { Client } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const run = promisify(execFile);
const KS_BIN = new URL('../../bin/ks.js', import.meta.url).pathname;
const EVERYWHERE = new URL('./fixtures/everywhere-scheduler.js', import.meta.url).pathname;

let services: Services;
let nodes: KsNode[] = [];

test.before(async () => {
  services = await startServices();
  // Every node runs the custom scheduler: each call is pushed to all three host queues.
  nodes = await Promise.all(['n1', 'n2', 'n3'].map((name) => startNode({ name, services, workers: 2, flags: ['--scheduler', EVERYWHERE] })));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

test.serial('1,000 jobs each pushed to three host queues run exactly once', async (t) => {
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  const count = async (redisUrl: string) => {
    const { Redis: R } = await import('ioredis');
    const g = globalThis as { counter?: InstanceType<typeof R> };
    g.counter ??= new R(redisUrl);
    await g.counter.incr('test:executions');
    const { taskContext } = await import('kitchensink');
    return taskContext().node.name;
  };
  for (let i = 0; i < 1000; i++) c.bc(count, services.redisUrl);
  const ids = await c.execute();
  const statuses = await Promise.all(ids.slice(0, 3).map((id) => c.status(id).catch(() => null)));
  for (const s of statuses) if (s) t.deepEqual((s as { queues: string[] }).queues, ['default|n1', 'default|n2', 'default|n3']);
  const results = (await c.br()) as string[];
  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  t.is(await redis.get('test:executions'), '1000');
  t.is(results.length, 1000);
  const perNode = new Set(results);
  t.true(perNode.size >= 2, `work spread over ${[...perNode].join(', ')}`);
});

test.serial('hosts() lists the three nodes; ks status shows them and the queues', async (t) => {
  const c = new Client(nodes[1].url, { output: 'silent' });
  t.teardown(() => c.close());
  t.deepEqual((await c.hosts()).map((h) => h.name), ['n1', 'n2', 'n3']);
  const { stdout } = await run(process.execPath, [KS_BIN, 'status', '--url', nodes[1].url, '--json']);
  const status = JSON.parse(stdout) as { nodes: { name: string; status: { executor: { threads: number } } }[] };
  t.deepEqual(status.nodes.map((n) => [n.name, n.status.executor.threads]), [['n1', 2], ['n2', 2], ['n3', 2]]);
  const table = await run(process.execPath, [KS_BIN, 'status', '--url', nodes[1].url, '--wide']);
  t.regex(table.stdout, /3 live node\(s\)/);
  t.regex(table.stdout, /n3 .*default, data .* \d\/\d .*http:\/\/127\.0\.0\.1:\d+\//);
});

test.serial('a node that stops cleanly leaves at once; ks start --join joins through any node', async (t) => {
  const joined = await startNode({ name: 'n4', workers: 1, flags: ['--join', nodes[0].url] });
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  t.deepEqual((await c.hosts()).map((h) => h.name), ['n1', 'n2', 'n3', 'n4']);
  t.is(await c.callWith({ queue: 'default|n4' }, async () => (await import('kitchensink')).taskContext().node.name), 'n4');
  await joined.stop();
  t.deepEqual((await c.hosts()).map((h) => h.name), ['n1', 'n2', 'n3']);
});
