import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { Client } from '../index.js';
import { freePort, runKs, startNode, startServices, type Services } from './helpers/cluster.js';

let services: Services;

test.before(async () => {
  services = await startServices();
});

test.after.always(async () => {
  await services?.stop();
});

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test.serial('a second node with a live node\'s name is refused at start in one line; the first keeps its identity', async (t) => {
  const first = await startNode({ name: 'twin', services });
  t.teardown(() => first.stop());
  const datadir = tempDir(t, 'ks-twin-');
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort()), '--node-name', 'twin', '--redis-url', services.redisUrl, '--nats-url', services.natsUrl]);
  t.is(run.code, 1);
  const stderr = lines(run.stderr).filter((l) => !l.includes('has no maxmemory'));
  t.is(stderr.length, 1, run.stderr);
  t.regex(stderr[0], new RegExp(`^ks start: node name twin is already live in this cluster \\(${first.url.replace(/[/.]/g, '\\$&')}, heartbeat \\d+ ms ago\\): pick another --node-name, or stop that node first$`));
  const c = new Client(first.url, { output: 'silent' });
  t.teardown(() => c.close());
  const hosts = await c.hosts();
  t.deepEqual(hosts.map((h) => [h.name, h.url]), [['twin', first.url]], 'the registry still holds the first node');
  t.is(await c.call((x: number) => x + 1, 1), 2);
});

test.serial('the same datadir restarting after SIGKILL, within the heartbeat TTL, is accepted under its name', async (t) => {
  const datadir = tempDir(t, 'ks-phoenix-');
  const before = await startNode({ name: 'phoenix', services, datadir });
  t.teardown(() => before.stop());
  const instance = readFileSync(join(datadir, '.ks', 'node-instance'), 'utf8').trim();
  t.regex(instance, /^[0-9a-f-]{36}$/);
  await before.stop('SIGKILL');

  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  t.true((await redis.pttl('{ks}:node:phoenix')) > 0, 'the killed node\'s heartbeat is still live');
  const description = JSON.parse((await redis.hget('{ks}:nodes', 'phoenix'))!) as { instance: string };
  t.is(description.instance, instance, 'the registry description carries the datadir\'s instance id');

  const after = await startNode({ name: 'phoenix', services, datadir });
  t.teardown(() => after.stop());
  const c = new Client(after.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x * 2, 4), 8);
  t.deepEqual((await c.hosts()).filter((h) => h.name === 'phoenix').map((h) => h.url), [after.url]);
  t.is(readFileSync(join(datadir, '.ks', 'node-instance'), 'utf8').trim(), instance, 'the instance id is kept');
});

test.serial('a node that stopped cleanly frees its name at once', async (t) => {
  const first = await startNode({ name: 'successor', services });
  t.is(await first.stop(), 0);
  const second = await startNode({ name: 'successor', services });
  t.teardown(() => second.stop());
  const c = new Client(second.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x - 1, 1), 0);
});
