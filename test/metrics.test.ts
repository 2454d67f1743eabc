/**
 * GET /metrics, /healthz and /readyz on real nodes: the counters move by exactly the jobs
 * run, by outcome and queue; the token rules; readiness following a real redis-server that is
 * stopped (SIGSTOP) and killed; and on two nodes, a peer copy and a data-routed call.
 */
import test from 'ava';
import { Client, dobj, dr, du, RemoteError } from '../index.js';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import { startCluster, startNode, type KsNode, type SharedCluster } from './helpers/cluster.js';
import { parsePrometheusText, type Exposition } from './helpers/prometheus-text.js';

const TOKEN = 'metrics-test-token';

async function scrape(node: KsNode, token?: string): Promise<Exposition> {
  const response = await fetch(new URL('metrics', node.url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (response.status !== 200) throw new Error(`GET /metrics: ${response.status} ${await response.text()}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain')) throw new Error(`content-type ${response.headers.get('content-type')}`);
  return parsePrometheusText(await response.text());
}

async function statusOf(node: KsNode, path: string, token?: string): Promise<number> {
  const response = await fetch(new URL(path, node.url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  await response.arrayBuffer();
  return response.status;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

// ---- one node with a token ---------------------------------------------------------

let tokenNode: KsNode;
let publicNode: KsNode;
let c: Client;

test.before(async () => {
  [tokenNode, publicNode] = await Promise.all([
    startNode({ name: 'metrics1', workers: 1, flags: ['--token', TOKEN] }),
    startNode({ name: 'metrics-public', workers: 1, flags: ['--token', TOKEN, '--metrics-public'] }),
  ]);
  c = new Client(tokenNode.url, { token: TOKEN, output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([tokenNode?.stop(), publicNode?.stop()]);
});

test.serial('the counters move by exactly the jobs run, by outcome and queue; the duration histogram counts every job that ran', async (t) => {
  const before = await scrape(tokenNode, TOKEN);
  t.is(before.types.get('ks_jobs_finished_total'), 'counter');
  t.is(before.types.get('ks_job_duration_seconds'), 'histogram');
  t.is(before.types.get('ks_queue_waiting'), 'gauge');
  t.true(before.find('process_cpu_seconds_total', { node: 'metrics1' }).length === 1, 'the default process metrics, with the node label');

  // 20 ok in one batch
  for (let i = 0; i < 20; i++) c.bc((x: number) => x * 2, i);
  t.deepEqual(await c.br(), Array.from({ length: 20 }, (_, i) => i * 2));
  // 3 errors
  for (let i = 0; i < 3; i++) {
    await t.throwsAsync(c.call((n: number) => {
      throw new Error(`failing ${n}`);
    }, i), { instanceOf: RemoteError, message: /failing/ });
  }
  // 1 timeout (its thread is stopped)
  const timedOut = await t.throwsAsync(c.callWith({ timeoutMs: 300 }, () => new Promise(() => undefined)), { instanceOf: RemoteError });
  t.is(timedOut!.remoteName, 'TimeoutError');
  // 2 cancelled while queued behind a running job (the node has one thread); the blocker ends ok
  const blocker = c.call(async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return 'blocker';
  }, 1500);
  const other = new Client(tokenNode.url, { token: TOKEN, output: 'silent' });
  t.true(await until(async () => (await c.nodeStatus()).executor.busy === 1), 'the blocker runs');
  for (let i = 0; i < 2; i++) other.bc(async (ms: number) => new Promise((r) => setTimeout(r, ms)), 10_000);
  const ids = await other.execute();
  t.is((await other.status(ids[0])).status, 'queued');
  await other.bulkCancel(ids);
  await other.close();
  t.is(await blocker, 'blocker');

  const after = await scrape(tokenNode, TOKEN);
  const moved = (name: string, labels: Record<string, string>) => after.sum(name, labels) - before.sum(name, labels);
  const q = { queue: 'default', node: 'metrics1' };
  t.is(moved('ks_jobs_submitted_total', q), 20 + 3 + 1 + 1 + 2);
  t.is(moved('ks_jobs_finished_total', { ...q, outcome: 'ok' }), 21);
  t.is(moved('ks_jobs_finished_total', { ...q, outcome: 'error' }), 3);
  t.is(moved('ks_jobs_finished_total', { ...q, outcome: 'timeout' }), 1);
  t.is(moved('ks_jobs_finished_total', { ...q, outcome: 'cancelled' }), 2);
  t.is(moved('ks_jobs_finished_total', { ...q, outcome: 'lost' }), 0);
  t.is(moved('ks_job_duration_seconds_count', q), 21 + 3 + 1, 'every job that ran to an outcome here');
  t.is(moved('ks_job_duration_seconds_bucket', { ...q, le: '+Inf' }), 25);
  t.is(moved('ks_job_wait_seconds_count', q), 25, 'every job this node started (the cancelled ones never did)');
  t.is(moved('ks_locality_routed_total', { choice: 'shared' }), 25, 'calls without data run from the shared queue');
  t.is(moved('ks_locality_routed_total', { choice: 'first' }) + moved('ks_locality_routed_total', { choice: 'later' }), 0);
  t.is(after.sum('ks_threads', { state: 'busy' }) + after.sum('ks_threads', { state: 'idle' }), 1);
  t.is(after.sum('ks_redis_up'), 1);
  t.is(after.sum('ks_nats_up'), 1);
  t.is(after.sum('ks_queue_waiting', { queue: 'default' }), 0);
  t.is(after.find('ks_data_bytes_held', { tier: 'disk' }).length, 1);
});

test.serial('ks_queue_waiting reads the queues from Redis; ks_threads shows the busy thread', async (t) => {
  const blocker = c.call(async () => new Promise((r) => setTimeout(() => r('done'), 1500)));
  t.true(await until(async () => (await c.nodeStatus()).executor.busy === 1));
  const other = new Client(tokenNode.url, { token: TOKEN, output: 'silent' });
  for (let i = 0; i < 3; i++) other.bc((x: number) => x, i);
  await other.execute();
  const during = await scrape(tokenNode, TOKEN);
  t.is(during.sum('ks_queue_waiting', { queue: 'default' }), 3);
  t.is(during.sum('ks_threads', { state: 'busy' }), 1);
  t.is(during.sum('ks_threads', { state: 'idle' }), 0);
  t.deepEqual(await other.br(), [0, 1, 2]);
  await other.close();
  t.is(await blocker, 'done');
});

test.serial('ks_data_bytes_held{tier="memory"} moves by exactly the size of a url loaded into memory, back when unloaded and dropped', async (t) => {
  const before = await scrape(tokenNode, TOKEN);
  t.is(before.find('ks_data_bytes_held', { tier: 'memory' }).length, 1);
  const content = Buffer.alloc(200_000, 3);
  const data = dr(content);
  data.adoptOrigin({ url: tokenNode.url, token: TOKEN });
  await data.save({ url: 'metrics/in-memory.bin' });
  t.deepEqual((await c.load(['metrics/in-memory.bin'])).nodes, { metrics1: ['metrics/in-memory.bin'] });
  const loaded = await scrape(tokenNode, TOKEN);
  const moved = loaded.sum('ks_data_bytes_held', { tier: 'memory' }) - before.sum('ks_data_bytes_held', { tier: 'memory' });
  t.is(moved, content.length);
  t.is(loaded.sum('ks_data_bytes_held', { tier: 'memory' }), (await c.nodeStatus()).data.memory?.used ?? -1, 'the series is the tier\'s own accounting');
  t.is(loaded.sum('ks_data_bytes_held', { tier: 'disk' }) - before.sum('ks_data_bytes_held', { tier: 'disk' }), content.length, 'on disk too');
  await c.unload(['metrics/in-memory.bin']);
  await c.deleteData('metrics/in-memory.bin');
  t.true(await until(async () => (await scrape(tokenNode, TOKEN)).sum('ks_data_bytes_held', { tier: 'memory' }) === before.sum('ks_data_bytes_held', { tier: 'memory' })));
});

test.serial('with --token, /metrics needs it; --metrics-public opens /metrics only; /healthz and /readyz need no token', async (t) => {
  t.is(await statusOf(tokenNode, 'metrics'), 401);
  t.is(await statusOf(tokenNode, 'metrics', 'wrong'), 401);
  t.is(await statusOf(tokenNode, 'metrics', TOKEN), 200);
  t.is(await statusOf(tokenNode, 'healthz'), 200);
  t.is(await statusOf(tokenNode, 'readyz'), 200);
  t.is(await statusOf(publicNode, 'metrics'), 200);
  t.is(await statusOf(publicNode, 'rpc/ping'), 401, 'every other route still needs the token');
  t.is(await statusOf(publicNode, 'rpc/queues'), 401);
  const text = await (await fetch(new URL('metrics', publicNode.url))).text();
  t.false(text.includes(TOKEN));
  t.deepEqual(await (await fetch(new URL('healthz', tokenNode.url))).json(), { ok: true });
});

// ---- readiness against a redis-server we can stop ----------------------------------

test.serial('/readyz is 503 while the node\'s Redis is stopped (SIGSTOP) or killed, 200 again when it is back; ks_redis_up follows', async (t) => {
  const redis: RedisServerProcess = await startRedisServer();
  let node: KsNode | undefined;
  try {
    node = await startNode({ name: 'metrics-ready', workers: 1, flags: ['--redis-url', redis.url, '--metrics-public'] });
    t.is(await statusOf(node, 'readyz'), 200);
    t.is((await scrape(node)).sum('ks_redis_up'), 1);

    redis.pause();
    const paused = await fetch(new URL('readyz', node.url));
    t.is(paused.status, 503);
    t.deepEqual(await paused.json(), { ready: false, redis: false, nats: true });
    const scraped = await scrape(node);
    t.is(scraped.sum('ks_redis_up'), 0);
    t.is(scraped.sum('ks_nats_up'), 1);
    t.is(await statusOf(node, 'healthz'), 200, 'the process is up all the same');
    redis.resume();
    t.true(await until(async () => (await statusOf(node!, 'readyz')) === 200));

    await redis.kill9();
    t.true(await until(async () => (await statusOf(node!, 'readyz')) === 503));
    t.is((await scrape(node)).sum('ks_redis_up'), 0);
    await redis.restart();
    t.true(await until(async () => (await statusOf(node!, 'readyz')) === 200));
    t.is((await scrape(node)).sum('ks_redis_up'), 1);
  } finally {
    redis.resume();
    await node?.stop();
    await redis.stop();
  }
});

// ---- two nodes ---------------------------------------------------------------------

let cluster: SharedCluster | undefined;

test.after.always(async () => {
  await cluster?.stop();
});

async function scrapeAll(nodes: KsNode[]): Promise<Exposition[]> {
  return Promise.all(nodes.map((n) => scrape(n)));
}

function total(scrapes: Exposition[], name: string, labels: Record<string, string> = {}): number {
  return scrapes.reduce((sum, e) => sum + e.sum(name, labels), 0);
}

test.serial('two nodes: a peer copy moves ks_data_copied_bytes_total{from,to} by its size; a data-routed call counts a first choice', async (t) => {
  cluster = await startCluster([
    { name: 'mA', workers: 1, flags: ['--metrics-public', '--locality-wait', '2000'] },
    { name: 'mB', workers: 1, flags: ['--metrics-public', '--locality-wait', '2000'] },
  ]);
  const [a, b] = cluster.nodes;
  const client = new Client(a.url, { output: 'silent' });
  try {
    const before = await scrapeAll([a, b]);
    // Saved on B; a task pinned to A reads it: A fetches a copy from B.
    const content = Buffer.alloc(300_000, 7);
    const data = dr(content);
    data.rpcUrl = b.url;
    await data.save({ url: 'metrics/peer.bin' });
    const size = await client.callWith({ queue: 'default|mA' }, async (d: { raw(): Promise<Uint8Array> }) => (await d.raw()).length, du('metrics/peer.bin'));
    t.is(size, content.length);
    const afterCopy = await scrapeAll([a, b]);
    t.is(afterCopy[0].sum('ks_data_copied_bytes_total', { from: 'mB', to: 'mA', node: 'mA' }) - before[0].sum('ks_data_copied_bytes_total', { from: 'mB', to: 'mA', node: 'mA' }), content.length);
    t.is(total(afterCopy, 'ks_data_copied_bytes_total') - total(before, 'ks_data_copied_bytes_total'), content.length, 'counted once, by the node that received it');
    t.is(afterCopy[0].sum('ks_data_bytes_held', { tier: 'disk' }), content.length, 'A holds its copy now');

    // Replication (pipeline): counted by the sender of each hop.
    const replicated = dobj({ values: new Float64Array(10_000) });
    replicated.rpcUrl = b.url;
    await replicated.save();
    const info = (await client.dataInfo([replicated.dataUrl])).data[replicated.dataUrl].info!;
    await replicated.pipeline();
    const afterPipeline = await scrapeAll([a, b]);
    t.is(afterPipeline[1].sum('ks_data_copied_bytes_total', { from: 'mB', to: 'mA' }) - afterCopy[1].sum('ks_data_copied_bytes_total', { from: 'mB', to: 'mA' }), info.size);

    // A call whose data only B holds is routed to B first; B claims it from its host queue.
    const small = dobj({ n: 1 });
    small.rpcUrl = b.url;
    await small.save();
    const ran = await client.call(async (_d: unknown) => {
      const { taskContext } = await import('kitchensink');
      return taskContext().node.name;
    }, small);
    t.is(ran, 'mB');
    const afterRouted = await scrapeAll([a, b]);
    const movedChoice = (choice: string) => total(afterRouted, 'ks_locality_routed_total', { choice }) - total(afterPipeline, 'ks_locality_routed_total', { choice });
    t.is(movedChoice('first'), 1);
    t.is(movedChoice('later'), 0);
    t.is(movedChoice('shared'), 0);
    t.is(afterRouted[1].sum('ks_locality_routed_total', { choice: 'first' }) - afterPipeline[1].sum('ks_locality_routed_total', { choice: 'first' }), 1, 'counted by B, which ran it');
    // Cluster-wide gauges: both nodes export the same queue lengths.
    t.deepEqual(afterRouted[0].find('ks_queue_waiting').map((s) => [s.labels.queue, s.value]).sort(), afterRouted[1].find('ks_queue_waiting').map((s) => [s.labels.queue, s.value]).sort());
  } finally {
    await client.close();
  }
});

test.serial('a job pinned to a node that is SIGKILLed counts as lost, once, on the node whose reaper found it', async (t) => {
  if (!cluster) return t.fail('the two-node test did not start the cluster');
  const victim = await startNode({ name: 'mC', workers: 1, services: cluster.services, flags: ['--metrics-public'] });
  const survivors = cluster.nodes;
  const client = new Client(survivors[0].url, { output: 'silent' });
  try {
    const before = await scrapeAll(survivors);
    const call = client.callWith({ queue: 'default|mC' }, async () => new Promise((r) => setTimeout(r, 60_000)));
    const failed = t.throwsAsync(call, { instanceOf: RemoteError });
    t.true(await until(async () => (await scrape(victim)).sum('ks_threads', { state: 'busy' }) === 1), 'the job runs on mC');
    await victim.stop('SIGKILL');
    t.is((await failed)!.remoteName, 'NodeLost');
    const after = await scrapeAll(survivors);
    t.is(total(after, 'ks_jobs_finished_total', { outcome: 'lost', queue: 'default' }) - total(before, 'ks_jobs_finished_total', { outcome: 'lost', queue: 'default' }), 1);
  } finally {
    await client.close();
    await victim.stop();
  }
});
