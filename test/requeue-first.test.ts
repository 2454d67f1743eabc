import test from 'ava';
import { Client } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';
import { sideEffects } from './helpers/outcomes.js';

let services: Services;
let nodes: KsNode[] = [];
const runs = sideEffects();

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['rq-head', 'rq-other'].map((name) => startNode({ name, services, workers: 1 })));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  runs.remove();
});

/** Records `start <job> <attempt> <node> <ms>` and later `end <job>`; returns its attempt. */
const step = async (dir: string, ms: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const { jobId, attempt, node } = taskContext();
  appendFileSync(`${dir}/runs`, `start ${jobId} ${attempt} ${node.name} ${Date.now()}\n`);
  await new Promise((r) => setTimeout(r, ms));
  appendFileSync(`${dir}/runs`, `end ${jobId}\n`);
  return attempt;
};

interface Start { id: string; attempt: number; node: string; at: number }

function starts(): Start[] {
  return runs.lines().filter((l) => l.startsWith('start ')).map((l) => {
    const [, id, attempt, node, at] = l.split(' ');
    return { id, attempt: Number(attempt), node, at: Number(at) };
  });
}

test.serial('a job taken back from a killed node goes ahead of 100 waiting jobs, and sees taskContext().attempt === 2', async (t) => {
  t.timeout(120_000);
  const [head, other] = nodes;
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  for (let i = 0; i < 100; i++) c.bc(step, runs.dir, 300);
  const ids = await c.execute();
  // Kill the other node just after it started a job: that job is surely running then.
  await eventually(() => starts().some((s) => s.node === other.name), 20_000, 'the other node to start a job');
  const seen = starts().filter((s) => s.node === other.name).length;
  await eventually(() => starts().filter((s) => s.node === other.name).length > seen, 5000, 'the other node to start its next job');
  await other.stop('SIGKILL');
  const killedAt = Date.now();
  const ended = new Set(runs.lines().filter((l) => l.startsWith('end ')).map((l) => l.split(' ')[1]));
  const cut = starts().filter((s) => s.node === other.name && !ended.has(s.id));
  t.is(cut.length, 1, 'one job was running on the killed node');
  const [killed] = cut;

  const results = await c.br();
  t.is(results.length, 100);
  ids.forEach((id, i) => t.is(results[i], id === killed.id ? 2 : 1, `attempt seen by ${id}`));

  const all = starts();
  const rerun = all.find((s) => s.id === killed.id && s.attempt === 2);
  t.truthy(rerun, 'the job ran again');
  t.is(rerun!.node, head.name);
  // The lease (3 heartbeats) and a reaper pass, plus the head's current 300 ms job. Coarse.
  t.true(rerun!.at - killedAt < 8000, `started again ${rerun!.at - killedAt} ms after the kill`);
  // Not behind the backlog: most of the 100 jobs had not started yet.
  const startedBefore = all.filter((s) => s.attempt === 1 && s.at < rerun!.at).length;
  t.true(startedBefore < 60, `${startedBefore} jobs started before it`);
  // Every job ran once, the killed one twice.
  t.is(all.length, 101);
  t.is(new Set(all.map((s) => s.id)).size, 100);
});
