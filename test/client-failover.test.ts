import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client } from '../index.js';
import { alive, startCluster, startNode, type SharedCluster } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let cluster: SharedCluster;
const dir = mkdtempSync(join(tmpdir(), 'ks-failover-'));

test.before(async () => {
  cluster = await startCluster([{ name: 'head', workers: 2 }, { name: 'second', workers: 2 }]);
});

test.after.always(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const BIG = 300 * 1024;

/** Appends its index to a file (one line per execution), prints it, and returns it, or a result over 256 KiB. */
const job = async (i: number, log: string, big: boolean) => {
  const { appendFileSync } = await import('node:fs');
  appendFileSync(log, `${i}\n`);
  console.log(`job ${i}`);
  await new Promise((r) => setTimeout(r, 25));
  return big ? Buffer.alloc(300 * 1024, i % 256) : i;
};

function executions(log: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1);
  return counts;
}

test.serial('head SIGKILLed mid-br(): a two-url client resumes the batch on the other node, every result exactly once and in order', async (t) => {
  const [head, second] = cluster.nodes;
  const log = join(dir, 'runs');
  writeFileSync(log, '');
  let outputs = 0;
  const c = new Client([head.url, second.url], { requestTimeoutMs: 3000, output: () => { outputs++; } });
  t.teardown(() => c.close());
  const N = 200;
  const big = (i: number) => i % 20 === 5;
  for (let i = 0; i < N; i++) {
    // The large results are computed (and kept) on the node that survives.
    if (big(i)) c.bcWith({ queue: `default|${second.name}` }, job, i, log, true);
    else c.bc(job, i, log, false);
  }
  const ids = await c.execute();
  t.is(ids.length, N);
  let delivered = 0;
  const collecting = c.br().then((results) => {
    delivered = results.length;
    return results;
  });
  // Mid-collection: the head has streamed some results (their output came first), not all.
  await eventually(() => outputs >= 40, 20_000, 'the head to stream some results');
  await head.stop('SIGKILL');
  t.false(alive(head.pid));
  t.true(delivered === 0, 'br() was still collecting when the head died');
  const results = await collecting;

  t.is(results.length, N);
  for (let i = 0; i < N; i++) {
    if (big(i)) {
      const bytes = results[i] as Buffer;
      t.true(Buffer.isBuffer(bytes) && bytes.length === BIG && bytes[0] === i % 256 && bytes[BIG - 1] === i % 256, `result ${i}`);
    } else {
      t.is(results[i], i, `result ${i}`);
    }
  }
  t.is(c.url, second.url, 'the client now talks to the second node');
  // Every job ran; one the head was running when it died ran again (at least once).
  const runs = executions(log);
  t.is(runs.size, N);
  const twice = [...runs].filter(([, n]) => n > 1).map(([i]) => i);
  t.log(`${outputs} outputs seen; jobs that ran twice: ${twice.join(', ') || 'none'}`);
  t.true(twice.every((i) => !big(i)), 'jobs pinned to the surviving node ran once');
  // Nothing is left to collect of what the second node delivered: each result went once, then was removed.
  const late = ids.filter((_, i) => big(i) && i >= 150);
  t.is(late.length, 2);
  const leftovers = await c.settledResults(late);
  t.true(leftovers.every((s) => s.status === 'rejected' && (s.reason as { code?: string }).code === 'not_found'), JSON.stringify(leftovers));
});

test.serial('execute() and call() go to the second url when the head is dead', async (t) => {
  const [head, second] = cluster.nodes;
  t.false(alive(head.pid), 'killed by the previous test');
  const c = new Client([head.url, second.url], { output: 'silent' });
  t.teardown(() => c.close());
  c.bc((x: number) => x * 2, 21);
  const ids = await c.execute();
  t.is(c.url, second.url);
  t.deepEqual(await c.br(), [42]);
  t.is((await c.status(ids[0]).catch((e: { code: string }) => e.code)), 'not_found');

  const d = new Client([head.url, second.url], { output: 'silent' });
  t.teardown(() => d.close());
  t.is(await d.call((x: number) => x + 1, 1), 2);
  t.is(d.url, second.url);
});

test.serial('call() whose head dies while its job runs is re-attached on the next url and returns the result once', async (t) => {
  const second = cluster.nodes[1];
  const third = await startNode({ name: 'third', services: cluster.services, workers: 1 });
  t.teardown(() => third.stop());
  const log = join(dir, 'call-runs');
  writeFileSync(log, '');
  const c = new Client([second.url, third.url], { output: 'silent', requestTimeoutMs: 3000 });
  t.teardown(() => c.close());
  const slow = async (log: string) => {
    const { appendFileSync } = await import('node:fs');
    appendFileSync(log, 'ran\n');
    await new Promise((r) => setTimeout(r, 1500));
    return 'done on third';
  };
  const calling = c.callWith({ queue: 'default|third' }, slow, log);
  await eventually(() => readFileSync(log, 'utf8').length > 0, 10_000, 'the job to start on third');
  await second.stop('SIGKILL');
  t.is(await calling, 'done on third');
  t.is(c.url, third.url);
  t.is(readFileSync(log, 'utf8'), 'ran\n', 'the job ran once');
});
