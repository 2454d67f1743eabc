import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client } from '../index.js';
import { startNode, startServices, type KsNode } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

/** A job that notes its start and end (with the node it ran on) in a file: the side effect counted. */
async function sideEffectJob(path: string, index: number, ms: number): Promise<string> {
  if (path === '') return ''; // a warm-up call: microseconds, so the node learns the function is short
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const node = taskContext().node.name;
  appendFileSync(path, `start ${index} ${node}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  appendFileSync(path, `end ${index} ${node}\n`);
  return node;
}

function sideEffects(t: { teardown(fn: () => void): void }, name: string): { path: string; lines(): string[] } {
  const path = join(tmpdir(), `ks-drain-${name}-${process.pid}-${Date.now()}.log`);
  t.teardown(() => rmSync(path, { force: true }));
  return {
    path,
    lines() {
      try {
        return readFileSync(path, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

async function exited(node: KsNode, ms: number): Promise<number | null> {
  const started = Date.now();
  const { alive } = await import('./helpers/cluster.js');
  while (alive(node.pid) && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 50));
  return alive(node.pid) ? null : Date.now() - started;
}

test.serial('SIGTERM drains: two running 1.5 s jobs finish, are delivered and executed once, then the node exits', async (t) => {
  const node = await startNode({ name: 'drainer', workers: 2 });
  t.teardown(() => node.stop());
  const file = sideEffects(t, 'two');
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(sideEffectJob, file.path, 0, 1500);
  c.bc(sideEffectJob, file.path, 1, 1500);
  await c.execute();
  await eventually(() => file.lines().length === 2, 5000, 'both jobs to start');

  process.kill(node.pid, 'SIGTERM');
  t.deepEqual(await c.br(), ['drainer', 'drainer'], 'both outcomes are delivered by the draining node');
  t.not(await exited(node, 10_000), null, 'the node exits');
  t.is(await node.stop(), 0);
  t.deepEqual(file.lines().sort(), ['end 0 drainer', 'end 1 drainer', 'start 0 drainer', 'start 1 drainer'], 'each job ran once, to its end');
  t.regex(node.output(), /draining: 2 jobs running, waiting up to 30 s \(Ctrl-C again to stop now\)/);
  t.regex(node.output(), /running jobs finished\n[^]*stopped/);
});

test.serial('--drain-timeout 300 on a 2-node cluster: the unfinished job is handed over and runs on the other node, delivered once', async (t) => {
  const services = await startServices();
  t.teardown(() => services.stop());
  const [stopping, staying] = await Promise.all([
    startNode({ name: 'short-drain', services, workers: 1, flags: ['--drain-timeout', '300'] }),
    startNode({ name: 'staying', services, workers: 1 }),
  ]);
  t.teardown(() => Promise.all([stopping.stop(), staying.stop()]));
  const file = sideEffects(t, 'handover');
  const c = new Client(staying.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(sideEffectJob, file.path, 0, 2500);
  c.bc(sideEffectJob, file.path, 1, 2500);
  await c.execute();
  await eventually(() => file.lines().length === 2, 8000, 'both jobs to start, one per node');
  const onStopping = file.lines().find((line) => line.endsWith(' short-drain'));
  t.truthy(onStopping, `one job runs on the node that will stop: ${file.lines().join(', ')}`);
  const handedOver = Number(onStopping!.split(' ')[1]);

  process.kill(stopping.pid, 'SIGTERM');
  t.not(await exited(stopping, 10_000), null, 'the node stops after its short drain');
  t.regex(stopping.output(), /draining: 1 job running, waiting up to 0\.3 s/);
  t.regex(stopping.output(), /1 job still running: handing it over to the other nodes/);

  t.deepEqual(await c.br(), ['staying', 'staying'], 'both delivered once; the handed-over job finished on the other node');
  const lines = file.lines();
  t.deepEqual(lines.filter((l) => l.startsWith('end ')).sort(), ['end 0 staying', 'end 1 staying'], 'each job completed exactly once');
  t.deepEqual(lines.filter((l) => l.startsWith(`start ${handedOver} `)), [`start ${handedOver} short-drain`, `start ${handedOver} staying`], 'the cut-short job started again on the other node');
});

test.serial('a second SIGTERM stops at once, without waiting for the drain', async (t) => {
  const node = await startNode({ name: 'impatient', workers: 1 });
  t.teardown(() => node.stop());
  const file = sideEffects(t, 'second');
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(sideEffectJob, file.path, 0, 20_000);
  await c.execute();
  await eventually(() => file.lines().length === 1, 5000, 'the job to start');

  process.kill(node.pid, 'SIGTERM');
  await eventually(() => /draining: 1 job running, waiting up to 30 s/.test(node.output()), 5000, 'the drain to begin');
  process.kill(node.pid, 'SIGTERM');
  const took = await exited(node, 8_000);
  t.not(took, null, 'the node exits within seconds of the second signal, not after the 30 s drain');
  t.regex(node.output(), /SIGTERM again: stopping now/);
  t.regex(node.output(), /stopped/);
  t.deepEqual(file.lines(), ['start 0 impatient'], 'the job was cut short');
});

test.serial('a draining node refuses new submits with 503 unavailable, and answers ping', async (t) => {
  const node = await startNode({ name: 'refusing', workers: 1 });
  t.teardown(() => node.stop());
  const file = sideEffects(t, 'refuse');
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(sideEffectJob, file.path, 0, 3000);
  await c.execute();
  await eventually(() => file.lines().length === 1, 5000, 'the job to start');
  process.kill(node.pid, 'SIGTERM');
  await eventually(() => /draining: 1 job running/.test(node.output()), 5000, 'the drain to begin');
  const other = new Client(node.url, { output: 'silent' });
  t.teardown(() => other.close());
  const error = await t.throwsAsync(other.call((x: number) => x, 1));
  t.is((error as { code?: string }).code, 'unavailable');
  t.regex(error?.message ?? '', /this node is stopping \(draining its running jobs\): submit to another node/);
  t.true((await other.ping()).ok);
  t.deepEqual(await c.br(), ['refusing']);
});

test.serial('jobs claimed but not started are handed back at once, ahead of the queue; each job still runs exactly once', async (t) => {
  const services = await startServices();
  t.teardown(() => services.stop());
  const first = await startNode({ name: 'prefetcher', services, workers: 1 });
  t.teardown(() => first.stop());
  const file = sideEffects(t, 'prefetched');
  const c = new Client(first.url, { output: 'silent' });
  t.teardown(() => c.close());
  // Known short (a few ms at most): its jobs are prefetched, grouped behind each other on the one thread.
  for (let i = 0; i < 80; i++) c.bc(sideEffectJob, '', i, 0);
  await c.br();
  c.bc(sideEffectJob, file.path, 0, 3000);
  for (let i = 1; i <= 10; i++) c.bc(sideEffectJob, file.path, i, 0);
  const ids = await c.execute();
  await eventually(() => file.lines().length === 1, 5000, 'the long job to start');
  t.deepEqual(file.lines(), ['start 0 prefetcher'], 'the ten short jobs wait behind it on this node');

  const { Redis } = await import('ioredis');
  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  const waiting = ids.slice(1);
  // As many as 20 ms of their expected work per thread were prefetched; the rest wait in the queue.
  const states = await Promise.all(waiting.map((id) => redis.hget(`{ks}:job:${id}`, 'st')));
  const prefetched = waiting.filter((_, i) => states[i] === 'running');
  t.true(prefetched.length >= 1, `prefetched: ${prefetched.length}`);

  process.kill(first.pid, 'SIGTERM');
  await eventually(async () => (await redis.zcard('{ks}:q:default')) === 10, 2000, 'the ten to be queued again');
  const scores = await Promise.all(prefetched.map((id) => redis.zscore('{ks}:q:default', id)));
  t.deepEqual(scores, prefetched.map(() => '0'), 'the prefetched ones go ahead of any waiting job');
  t.deepEqual(await redis.smembers('{ks}:running:prefetcher'), [ids[0]], 'only the started job stays claimed');
  // (a job's hash leaves `attempts` out while it is 0: architecture §4)
  t.deepEqual(await Promise.all(waiting.map(async (id) => (await redis.hget(`{ks}:job:${id}`, 'attempts')) ?? '0')), waiting.map(() => '0'), 'a job that never ran costs no attempt');

  t.not(await exited(first, 10_000), null);
  t.deepEqual(file.lines(), ['start 0 prefetcher', 'end 0 prefetcher'], 'the long job finished in the drain; the handed-back ones did not run here');

  // Another node serving the queue runs each handed-back job once.
  const second = await startNode({ name: 'taker', services, workers: 1 });
  t.teardown(() => second.stop());
  await eventually(() => file.lines().filter((l) => l.startsWith('end ')).length === 11, 10_000, 'the ten to run on the other node');
  // A node starting with a backlog takes back its leftovers before it claims (it once re-queued its own fresh claims).
  await new Promise((r) => setTimeout(r, 1500));
  const ends = file.lines().filter((l) => l.startsWith('end ') && l.endsWith(' taker')).map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b);
  t.deepEqual(ends, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.is(file.lines().length, 22, 'no job ran twice');
});
