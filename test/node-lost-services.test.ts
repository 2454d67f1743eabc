import test from 'ava';
import { request } from 'undici';
import { Client, KsError } from '../src/index.js';
import { alive, processesUsing, runKs, startNode } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

interface ServiceInfo {
  name: string;
  pid: number;
  url: string;
}

const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

test.serial('a joined node whose head (and its embedded Redis and NATS) dies: one line each, fast 503 unavailable, and SIGINT stops it', async (t) => {
  const head = await startNode({ name: 'head', workers: 1 });
  t.teardown(() => head.stop());
  const services = ((await (await fetch(new URL('rpc/node', head.url))).json()) as { services: ServiceInfo[] }).services;
  t.teardown(() => {
    for (const { pid } of services) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const redisUrl = services.find((s) => s.name === 'redis-server')!.url;
  const natsUrl = services.find((s) => s.name === 'nats-server')!.url;

  const joined = await startNode({ name: 'joined', workers: 1, flags: ['--join', head.url] });
  t.teardown(() => joined.stop());
  t.is(count(joined.output(), /ks start: warning: head runs the cluster's redis-server and nats-server as its own child processes: the cluster stops working when that node stops/), 1, joined.output());
  const c = new Client(joined.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x + 1, 1), 2);

  // The head's machine goes away: the node and both servers it ran, all at once.
  await head.stop('SIGKILL');
  for (const { pid } of services) process.kill(pid, 'SIGKILL');

  const redisAddress = new URL(redisUrl).host;
  const natsAddress = new URL(natsUrl).host;
  await eventually(() => joined.output().includes(`lost Redis at ${redisAddress}, retrying`), 8000, 'the lost-Redis line');
  await eventually(() => joined.output().includes(`lost NATS at ${natsAddress}, retrying`), 8000, 'the lost-NATS line');

  // The API answers at once, clearly.
  let started = Date.now();
  const hosts = await request(new URL('rpc/hosts', joined.url));
  const reply = (await hosts.body.json()) as { error: string; code: string };
  t.true(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
  t.is(hosts.statusCode, 503);
  t.is(reply.code, 'unavailable');
  t.regex(reply.error, new RegExp(`^this node lost Redis at ${redisAddress} \\d+ s ago and is retrying`));
  const submit = await t.throwsAsync(c.call((x: number) => x, 1), { instanceOf: KsError });
  t.is(submit?.code, 'unavailable');
  t.notRegex(submit?.message ?? '', /maxRetriesPerRequest/);
  t.true((await c.ping()).ok, 'ping needs no Redis');

  started = Date.now();
  const status = await runKs(['status', '--url', joined.url], { timeoutMs: 15_000 });
  t.true(Date.now() - started < 8000, `ks status answered in ${Date.now() - started} ms`);
  t.not(status.code, 0);
  t.regex(status.stderr, /lost Redis at/);
  t.notRegex(status.stderr, /maxRetriesPerRequest/);

  // Still one line each, however long it lasts.
  await new Promise((r) => setTimeout(r, 2500));
  t.is(count(joined.output(), /lost Redis at/), 1, joined.output());
  t.is(count(joined.output(), /lost NATS at/), 1);
  t.is(count(joined.output(), /reaper pass failed|claim failed/), 0, 'no warning per failed pass');

  // Ctrl-C stops it, well within the drain timeout, and leaves nothing behind.
  started = Date.now();
  process.kill(joined.pid, 'SIGINT');
  await eventually(() => !alive(joined.pid), 30_000, 'the joined node to exit');
  t.true(Date.now() - started < 15_000, `stopped in ${Date.now() - started} ms`);
  t.is(await joined.stop(), 0);
  t.regex(joined.output(), /stopped/);
  t.deepEqual(processesUsing(joined.datadir), []);
  t.deepEqual(processesUsing(head.datadir), []);
});
