/**
 * Idempotent submits (docs/reliability.md "Submits"): a resend of a submitId, to the same node
 * or another, answers the same { batch, ids } and enqueues nothing; concurrent sends of one
 * submitId enqueue once. Executions are counted through a side effect (each task appends its
 * id to a file), deliveries at the head's result stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { KsError } from '../src/errors.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { bulkcall, collect, recordRunBody, runsIn } from './helpers/raw-submit.js';

let services: Services;
let nodes: KsNode[] = [];
let dir: string;

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 2 })));
  dir = mkdtempSync(join(tmpdir(), 'ks-submit-'));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('a resent submitId answers the same ids, on the same node and on another, and its jobs run once', async (t) => {
  const body = recordRunBody(dir, 20, { ms: 50, submitId: 'resend-same-and-other-1' });
  const first = await bulkcall(nodes[0].url, body);
  t.is(first.ids.length, 20);
  const again = await bulkcall(nodes[0].url, body);
  const elsewhere = await bulkcall(nodes[1].url, body);
  t.deepEqual(again, first);
  t.deepEqual(elsewhere, first);

  const { outcomes, failed } = await collect(nodes[0].url, first);
  t.deepEqual(failed, []);
  t.deepEqual([...outcomes.keys()].sort(), first.ids);
  t.true([...outcomes.values()].every((n) => n === 1), 'each outcome delivered once');
  await settle(1000); // a second enqueue would have run by now
  const runs = runsIn(dir);
  for (const id of first.ids) t.is(runs.get(id), 1, `job ${id} ran once`);
  t.is([...runs.keys()].filter((id) => id.startsWith(first.batch)).length, 20);
  t.is(runs.size, 20, 'no other job ran');
});

test.serial('concurrent sends of one submitId to two nodes enqueue once', async (t) => {
  const before = runsIn(dir).size;
  const body = recordRunBody(dir, 300, { submitId: 'concurrent_duplicate_2' });
  const answers = await Promise.all([nodes[0], nodes[1], nodes[0], nodes[1]].map((node) => bulkcall(node.url, body)));
  for (const answer of answers) t.deepEqual(answer, answers[0]);
  const { outcomes, failed } = await collect(nodes[1].url, answers[0]);
  t.deepEqual(failed, []);
  t.is(outcomes.size, 300);
  t.true([...outcomes.values()].every((n) => n === 1));
  await settle(1000);
  const runs = runsIn(dir);
  t.is(runs.size - before, 300, 'only one batch of 300 ran');
  for (const id of answers[0].ids) t.is(runs.get(id), 1);

  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  t.is(await redis.get('{ks}:submit:concurrent_duplicate_2'), answers[0].batch);
  const ttl = await redis.pttl('{ks}:submit:concurrent_duplicate_2');
  t.true(ttl > 23 * 3600_000, `the mapping lives as long as the jobs can (pttl ${ttl})`);
});

test.serial('a submitId reused for a different submit is a conflict; a malformed one a 400', async (t) => {
  const first = await bulkcall(nodes[0].url, recordRunBody(dir, 2, { submitId: 'reused-for-other-3' }));
  const error = await t.throwsAsync(bulkcall(nodes[0].url, recordRunBody(dir, 3, { submitId: 'reused-for-other-3' })));
  t.is((error as KsError).code, 'conflict');
  t.regex(error!.message, /submitId reused-for-other-3 was used for another submit/);
  await collect(nodes[0].url, first);
  for (const bad of ['short', 'has space in it', 'x'.repeat(65)]) {
    const refused = await t.throwsAsync(bulkcall(nodes[0].url, recordRunBody(dir, 1, { submitId: bad })));
    t.is((refused as KsError).code, 'bad_request', bad);
  }
});

test.serial('without a submitId every send is a new batch', async (t) => {
  const body = recordRunBody(dir, 1);
  const [a, b] = [await bulkcall(nodes[0].url, body), await bulkcall(nodes[0].url, body)];
  t.not(a.batch, b.batch);
  await Promise.all([collect(nodes[0].url, a), collect(nodes[0].url, b)]);
});
