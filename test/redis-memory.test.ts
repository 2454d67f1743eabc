import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { checkRedisMemory, parseMemoryInfo } from '../actors/node/redis-memory.js';
import { startRedisServer } from '../benchmarks/lib/redis-server.js';
import { Client, KsError } from '../index.js';
import { embeddedRedisUrl, freePort, runKs, startNode, startServices } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

test('INFO memory is read for used_memory, maxmemory and the policy; only noeviction passes', (t) => {
  const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:16777216\r\nmaxmemory_human:16.00M\r\nmaxmemory_policy:allkeys-lru\r\n';
  const memory = parseMemoryInfo(info);
  t.deepEqual(memory, { used: 1048576, max: 16777216, policy: 'allkeys-lru' });
  t.throws(() => checkRedisMemory(memory, '127.0.0.1:1'), { message: /maxmemory-policy allkeys-lru: it may evict jobs; kitchensink needs noeviction/ });
  t.is(checkRedisMemory({ ...memory, policy: 'noeviction' }, '127.0.0.1:1'), undefined);
  t.regex(checkRedisMemory({ ...memory, policy: 'noeviction', max: 0 }, '127.0.0.1:1') ?? '', /no maxmemory.*guard \(--redis-memory-limit\) is off/);
});

test.serial('an external Redis with maxmemory-policy allkeys-lru: ks start exits 1 with one line naming the policy', async (t) => {
  const redis = await startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] });
  t.teardown(() => redis.stop());
  const services = await startServices();
  t.teardown(() => services.stop());
  const datadir = mkdtempSync(join(tmpdir(), 'ks-lru-'));
  t.teardown(() => rmSync(datadir, { recursive: true, force: true }));
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort()), '--redis-url', redis.url, '--nats-url', services.natsUrl]);
  t.is(run.code, 1);
  t.deepEqual(lines(run.stderr), [`ks start: Redis at 127.0.0.1:${redis.port} has maxmemory-policy allkeys-lru: it may evict jobs; kitchensink needs noeviction (CONFIG SET maxmemory-policy noeviction)`]);
});

test.serial('the embedded redis-server runs with noeviction and a maxmemory', async (t) => {
  const node = await startNode({ name: 'embedded-memory' });
  t.teardown(() => node.stop());
  const redis = new Redis(await embeddedRedisUrl(node));
  t.teardown(() => redis.disconnect());
  const memory = parseMemoryInfo(await redis.info('memory'));
  t.is(memory.policy, 'noeviction');
  t.true(memory.max > 0, `maxmemory ${memory.max}`);
});

test.serial('the memory guard: over --redis-memory-limit, submits and data saves get 503 while reads, status and results go on; freed, submits pass again', async (t) => {
  const redis = await startRedisServer({ args: ['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction'] });
  t.teardown(() => redis.stop());
  const services = await startServices();
  t.teardown(() => services.stop());
  const node = await startNode({ name: 'guarded', services: { ...services, redisUrl: redis.url }, workers: 1, flags: ['--redis-memory-limit', '50'] });
  t.teardown(() => node.stop());
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());

  // Work submitted before Redis fills up, collected after.
  c.bc((x: number) => x * 2, 21);
  c.bc((x: number) => x * 3, 3);
  await c.execute();

  // Someone fills Redis past half of its 16 MB (a backlog of results nobody collects).
  const filler = new Redis(redis.url);
  t.teardown(() => filler.disconnect());
  for (let i = 0; i < 9; i++) await filler.set(`filler:${i}`, Buffer.alloc(1 << 20, i));

  const submitRefused = async () => {
    const probe = new Client(node.url, { output: 'silent' });
    try {
      probe.bc((x: number) => x, 1);
      await probe.execute();
      await probe.br();
      return false;
    } catch (error) {
      if (error instanceof KsError && error.code === 'unavailable') return true;
      throw error;
    } finally {
      await probe.close();
    }
  };
  await eventually(submitRefused, 5000, 'the guard to refuse submits');
  const refused = await t.throwsAsync(async () => {
    c.bc((x: number) => x, 1);
    await c.execute();
  }, { instanceOf: KsError });
  t.is(refused?.status, 503);
  t.is(refused?.code, 'unavailable');
  t.regex(refused?.message ?? '', /^submit refused: Redis is nearly full \(.* used of its maxmemory 16 MB, over the 50% set by --redis-memory-limit\)/);
  const queuedCall = await t.throwsAsync(c.call((x: number) => x, 1), { instanceOf: KsError });
  t.is(queuedCall?.code, 'unavailable');

  const save = await request(new URL('rpc/data/guard/blocked', node.url), { method: 'POST', body: 'some bytes', headers: { 'content-type': 'application/octet-stream' } });
  const saveReply = (await save.body.json()) as { error: string; code: string };
  t.is(save.statusCode, 503);
  t.is(saveReply.code, 'unavailable');
  t.regex(saveReply.error, /^data save refused: Redis is nearly full/);

  // Reads, status and results go on.
  t.true((await c.ping()).ok);
  t.deepEqual((await c.hosts()).map((h) => h.name), ['guarded']);
  t.deepEqual(await c.br(), [42, 9], 'the results of earlier work are delivered');
  t.is(await c.callWith({ async: false }, (x: number) => x + 1, 1), 2, 'a direct call never touches Redis and is not refused');

  // Freed: submits pass again.
  await filler.del(...Array.from({ length: 9 }, (_, i) => `filler:${i}`));
  await eventually(async () => !(await submitRefused()), 5000, 'the guard to accept submits again');
  t.is(await c.call((x: number) => x * 5, 5), 25);
  t.regex(node.output(), /over 50% of its maxmemory .*refusing submits and data saves/);
  t.regex(node.output(), /back under 50% of its maxmemory/);
});

test.serial('an external Redis without maxmemory: one warning at start, and the guard is off', async (t) => {
  const services = await startServices();
  t.teardown(() => services.stop());
  const node = await startNode({ name: 'unlimited', services, workers: 1 });
  t.teardown(() => node.stop());
  t.regex(node.output(), /Redis at 127\.0\.0\.1:\d+ has no maxmemory: it can grow until the machine runs out of memory; the Redis memory guard \(--redis-memory-limit\) is off/);
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x + 1, 1), 2);
});
