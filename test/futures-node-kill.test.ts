/**
 * A graph of futures survives a node SIGKILLed in the middle: every future gets exactly one
 * outcome, the final value is right, and a job runs more than once only when its first run
 * was on the killed node (outcomes exactly once, execution at least once).
 */
import test from 'ava';
import { Client, type Future } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { sideEffects } from './helpers/outcomes.js';

let services: Services;
let head: KsNode;
let victim: KsNode;
const runs = sideEffects();

test.before(async () => {
  services = await startServices();
  [head, victim] = await Promise.all(['kill-head', 'kill-victim'].map((name) => startNode({ name, services, workers: 2 })));
});

test.after.always(async () => {
  await Promise.all([head?.stop(), victim?.stop('SIGKILL')]);
  await services?.stop();
  runs.remove();
});

const step = async (dir: string, ms: number, ...values: number[]) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const { jobId, node } = taskContext();
  appendFileSync(`${dir}/runs`, `${jobId} ${node.name}\n`);
  await new Promise((r) => setTimeout(r, ms));
  return values.reduce((s, v) => s + v, 0);
};

test('exactly one outcome per future when a node is SIGKILLed mid-graph', async (t) => {
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  const all: Future<number>[] = [];
  const track = (f: Future<number>) => {
    all.push(f);
    return f;
  };
  const leaves = Array.from({ length: 12 }, (_, i) => track(c.submit(step, runs.dir, 600, i)));
  let level = leaves;
  while (level.length > 1) {
    const next: Future<number>[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(track(c.submit(step, runs.dir, 300, level[i], level[i + 1] ?? 0)));
    level = next;
  }
  const settledTimes = new Map<Future<number>, number>();
  for (const f of all) f.onSettled(() => settledTimes.set(f, (settledTimes.get(f) ?? 0) + 1));

  // Kill the victim once it runs some of the leaves.
  for (let i = 0; i < 200 && !runs.lines().some((l) => l.endsWith(' kill-victim')); i++) await new Promise((r) => setTimeout(r, 25));
  t.true(runs.lines().some((l) => l.endsWith(' kill-victim')), 'the victim ran a job before it was killed');
  await victim.stop('SIGKILL');

  t.is(await level[0], (11 * 12) / 2);
  const settled = await c.gather(all, { errors: 'settle' });
  t.true(settled.every((s) => s.status === 'fulfilled'), 'no future failed');
  t.is(settledTimes.size, all.length);
  t.true([...settledTimes.values()].every((n) => n === 1), 'every future settled once');
  const ids = await Promise.all(all.map((f) => f.id));
  t.is(new Set(ids).size, all.length);
  const byJob = new Map<string, string[]>();
  for (const line of runs.lines()) {
    const [id, node] = line.split(' ');
    byJob.set(id, [...(byJob.get(id) ?? []), node]);
  }
  for (const id of ids) {
    const ran = byJob.get(id) ?? [];
    t.true(ran.length >= 1, `job ${id} ran`);
    if (ran.length > 1) t.is(ran[0], 'kill-victim', `job ${id} ran again only after its node was lost`);
  }
});
