/**
 * Submits under Redis faults, caused for real on a private redis-server (docs/reliability.md):
 * an OOM part-way through a bulk leaves nothing; DEBUG SLEEP during a submit loses nothing;
 * kill -9 and restart (AOF, appendfsync always) mid-workload: every accepted job is delivered
 * exactly once and a failed submit ran nothing; FLUSHALL: the next submit stores its source
 * again. Executions are counted through a side effect, deliveries at the head.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import { Client } from '../index.js';
import { KsError } from '../src/errors.js';
import { loadScript } from '../src/store/store.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';
import { bulkcall, collect, recordRunBody, runsIn, type Submitted } from './helpers/raw-submit.js';

let nats: Services;

test.before(async () => {
  nats = await startServices(); // its NATS is shared; each test has its own redis-server
});

test.after.always(async () => {
  await nats?.stop();
});

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Setup {
  redis: RedisServerProcess;
  admin: Redis;
  nodes: KsNode[];
  dir: string;
}

async function setup(t: { teardown(fn: () => Promise<void> | void): void }, options: Parameters<typeof startRedisServer>[0], names = ['n1'], workers = 2): Promise<Setup> {
  const redis = await startRedisServer(options);
  const dir = mkdtempSync(join(tmpdir(), 'ks-faults-'));
  const services: Services = { redisUrl: redis.url, natsUrl: nats.natsUrl, natsPid: nats.natsPid, stop: async () => undefined };
  const nodes: KsNode[] = [];
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  t.teardown(async () => {
    admin.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of names) nodes.push(await startNode({ name, services, workers }));
  return { redis, admin, nodes, dir };
}

/** Every key of the cluster that holds jobs: job hashes, queue entries, running sets. */
async function jobKeys(admin: Redis): Promise<{ jobs: number; queued: number; running: number }> {
  const jobs = (await admin.keys('{ks}:job:*')).length;
  let queued = 0;
  for (const q of await admin.keys('{ks}:q:*')) queued += await admin.zcard(q);
  let running = 0;
  for (const r of await admin.keys('{ks}:running:*')) running += await admin.scard(r);
  return { jobs, queued, running };
}

test.serial('a bulk that hits maxmemory part-way fails cleanly: nothing of it runs or stays', async (t) => {
  const { admin, nodes, dir } = await setup(t, { args: ['--maxmemory', '24mb', '--maxmemory-policy', 'noeviction'] });
  // 3,000 calls of ~10 KiB: about 30 MiB, more than Redis may hold.
  const error = await t.throwsAsync(bulkcall(nodes[0].url, recordRunBody(dir, 3000, { padding: 10_000, ms: 0 })));
  t.is((error as KsError).code, 'unavailable');
  t.regex(error!.message, /nothing of it was kept/);
  t.regex(error!.message, /OOM/);
  await settle(3000);
  t.is(runsIn(dir).size, 0, 'no job of the failed submit ran');
  t.deepEqual(await jobKeys(admin), { jobs: 0, queued: 0, running: 0 });
  t.deepEqual(await admin.keys('{ks}:fn:*'), [], 'the source was not stored either');
  // Memory is free again: the next submit works.
  const ok = await bulkcall(nodes[0].url, recordRunBody(dir, 10, { padding: 100 }));
  const { outcomes, failed } = await collect(nodes[0].url, ok);
  t.deepEqual(failed, []);
  t.is(outcomes.size, 10);
  t.is(runsIn(dir).size, 10);
});

test.serial('DEBUG SLEEP 2.5 during a 200-job submit: every id is delivered exactly once and ran exactly once', async (t) => {
  const { admin, nodes, dir } = await setup(t, { debug: true }, ['n1'], 4);
  const slept = admin.call('DEBUG', 'SLEEP', '2.5');
  await settle(50);
  const submitted = await bulkcall(nodes[0].url, recordRunBody(dir, 200));
  await slept;
  t.is(submitted.ids.length, 200);
  const { outcomes, failed } = await collect(nodes[0].url, submitted);
  t.deepEqual([...outcomes.keys()].sort(), submitted.ids);
  t.true([...outcomes.values()].every((n) => n === 1), 'each outcome delivered once');
  await settle(500);
  const runs = runsIn(dir);
  t.is(runs.size, 200);
  for (const id of submitted.ids) t.is(runs.get(id), 1, `job ${id} ran once`);
  // Every job ran, so no outcome may say it was lost (the head's tracker does not read Redis
  // while the submit is still being written).
  t.deepEqual(failed, []);
});

test.serial('Redis kill -9 and restart mid-workload (appendfsync always): accepted jobs delivered exactly once, failed submits ran nothing', async (t) => {
  const { redis, nodes, dir } = await setup(t, { durable: true }, ['n1', 'n2'], 2);
  const accepted: Submitted[] = [];
  let failures = 0;
  let resends = 0;
  let stop = false;
  const submitter = (async () => {
    for (let round = 0; !stop; round++) {
      const body = recordRunBody(dir, 40, { ms: 5, submitId: `chaos-round-${String(round).padStart(4, '0')}` });
      // A client that gives up after 1 s and resends the same submitId to the other node:
      // only a submit the node says kept nothing counts as failed (and must run nothing).
      for (let attempt = 0; attempt < 40; attempt++) {
        try {
          accepted.push(await bulkcall(nodes[(round + attempt) % 2].url, body, 1000));
          break;
        } catch (error) {
          if (error instanceof KsError && /nothing of it was kept/.test(error.message)) {
            failures++;
            break;
          }
          resends++;
          await settle(100);
        }
      }
      await settle(50);
    }
  })();
  await settle(1500);
  await redis.kill9();
  await settle(1500);
  await redis.restart();
  await settle(2000);
  stop = true;
  await submitter;
  t.log(`${accepted.length} batches accepted, ${failures} submits failed, ${resends} resends`);
  t.true(accepted.length >= 5);
  t.is(new Set(accepted.map((s) => s.batch)).size, accepted.length, 'no batch answered twice');

  const delivered = new Map<string, number>();
  for (const submitted of accepted) {
    const { outcomes, failed } = await collect(nodes[0].url, submitted);
    t.deepEqual(failed, [], `batch ${submitted.batch}`);
    for (const [id, n] of outcomes) delivered.set(id, (delivered.get(id) ?? 0) + n);
  }
  const acceptedIds = accepted.flatMap((s) => s.ids);
  for (const id of acceptedIds) t.is(delivered.get(id), 1, `job ${id} delivered once`);
  await settle(1000);
  const runs = runsIn(dir);
  const known = new Set(acceptedIds);
  const unknown = [...runs.keys()].filter((id) => !known.has(id));
  t.deepEqual(unknown, [], 'no job of a failed submit ran');
  for (const id of acceptedIds) t.true((runs.get(id) ?? 0) >= 1, `job ${id} ran`);
});

test.serial('after FLUSHALL the next submit stores its source again and its job runs on another node', async (t) => {
  const { admin, nodes, dir } = await setup(t, {}, ['n1', 'n2'], 1);
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  const where = async (d: string) => {
    const { taskContext } = await import('kitchensink');
    void d;
    return taskContext().node.name;
  };
  t.is(await c.callWith({ queue: 'default|n2' }, where, dir), 'n2');
  await admin.flushall();
  // The nodes are back in the registry after their next heartbeat.
  await eventually(async () => (await c.hosts()).length === 2, 10_000, 'both nodes to register again');
  t.is(await c.callWith({ queue: 'default|n2' }, where, dir), 'n2');
  t.is((await admin.keys('{ks}:fn:*')).length, 1);
});

test.serial('a large submit is written in short chunks: Redis is never held for long', async (t) => {
  const { admin, nodes, dir } = await setup(t, { args: ['--slowlog-log-slower-than', '0', '--slowlog-max-len', '1000000'] });
  const submitted = await bulkcall(nodes[0].url, recordRunBody(dir, 5000, { padding: 200 }));
  t.is(submitted.ids.length, 5000);
  const enqueueSha = createHash('sha1').update(loadScript('enqueueJobs')).digest('hex');
  const log = (await admin.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  // ioredis sends EVALSHA, and EVAL while Redis does not know the script yet.
  const isChunk = ([command, first]: string[]) => /^evalsha$/i.test(command) ? first === enqueueSha : /^eval$/i.test(command) && String(first).includes('Writes one chunk');
  const chunks = log.filter((entry) => isChunk(entry[3])).map((entry) => entry[2]).sort((a, b) => a - b);
  t.true(chunks.length >= 50, `5,000 jobs in ${chunks.length} chunks`);
  // The median, not the maximum: a busy machine may deschedule Redis in the middle of any command.
  const median = chunks[Math.floor(chunks.length / 2)];
  t.true(median < 20_000, `a chunk takes ${median} µs (median; 1,000 jobs at once took ~60 ms here)`);
  const { outcomes } = await collect(nodes[0].url, submitted);
  t.is(outcomes.size, 5000);
});
