import { Client } from '../index.js';
import { startKsNode } from './lib/ks-node.js';
import { latenciesMs, report, type Row } from './lib/report.js';

/**
 * No-op throughput and single-call latency on one node with 2 worker threads
 * (issue: at least 10,000 tasks/s on the 20,000 bulk; queued p50 under 1 ms).
 */
const noop = (x: number) => x;

async function bulk(c: Client, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) c.bc(noop, i);
  await c.execute();
  const results = await c.br();
  const seconds = (performance.now() - t0) / 1000;
  if (results.length !== n || results[n - 1] !== n - 1) throw new Error('wrong results');
  return n / seconds;
}

/** 20,000 (n) submit() in a loop, all results gathered: one batch, like bulk(). */
async function futures(c: Client, n: number): Promise<number> {
  const t0 = performance.now();
  const list = [];
  for (let i = 0; i < n; i++) list.push(c.submit(noop, i));
  const results = await c.gather(list);
  const seconds = (performance.now() - t0) / 1000;
  if (results.length !== n || results[n - 1] !== n - 1) throw new Error('wrong results');
  return n / seconds;
}

const add = (a: number, b: number) => a + b;

/** A reduce tree over `leaves` leaves, as futures passed to futures: ms from first submit to the sum. */
async function reduceTree(c: Client, leaves: number): Promise<number> {
  const t0 = performance.now();
  let level = Array.from({ length: leaves }, (_, i) => c.submit(noop, i));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(c.submit(add, level[i], level[i + 1] ?? 0));
    level = next;
  }
  const sum = await level[0];
  if (sum !== (leaves * (leaves - 1)) / 2) throw new Error('wrong sum');
  return performance.now() - t0;
}

/** The same work, each level collected with br() before the next is submitted. */
async function reduceByLevel(c: Client, leaves: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < leaves; i++) c.bc(noop, i);
  let values = (await c.br()) as number[];
  while (values.length > 1) {
    for (let i = 0; i < values.length; i += 2) c.bc(add, values[i], values[i + 1] ?? 0);
    values = (await c.br()) as number[];
  }
  if (values[0] !== (leaves * (leaves - 1)) / 2) throw new Error('wrong sum');
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;

/** `--only futures`: just the futures rows (bulk vs submit loop, reduce tree), alternated. */
const onlyFutures = process.argv.includes('--only') && process.argv[process.argv.indexOf('--only') + 1] === 'futures';
const REPS = 3;

async function futuresRows(c: Client): Promise<Row[]> {
  await futures(c, 2000); // warm-up
  const bulkRates: number[] = [];
  const futureRates: number[] = [];
  const ratios: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const b = await bulk(c, 20000);
    const f = await futures(c, 20000);
    bulkRates.push(b);
    futureRates.push(f);
    ratios.push(f / b);
  }
  const treeMs: number[] = [];
  const levelMs: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    treeMs.push(await reduceTree(c, 1000));
    levelMs.push(await reduceByLevel(c, 1000));
  }
  return [
    { workload: `bulk of 20000 no-op tasks (bc + execute + br), alternated`, metric: `tasks/s (median of ${REPS}; spread ${spread(bulkRates)})`, value: Math.round(median(bulkRates)) },
    { workload: `20000 submit() in a loop + gather, alternated`, metric: `tasks/s (median of ${REPS}; spread ${spread(futureRates)})`, value: Math.round(median(futureRates)) },
    { workload: 'submit loop / bulk, same rep', metric: `ratio (median; spread ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`, value: +median(ratios).toFixed(2) },
    { workload: 'reduce tree over 1000 leaves, futures as arguments', metric: `ms (median of ${REPS}; spread ${spread(treeMs)})`, value: Math.round(median(treeMs)) },
    { workload: 'reduce tree over 1000 leaves, br() per level', metric: `ms (median of ${REPS}; spread ${spread(levelMs)})`, value: Math.round(median(levelMs)) },
  ];
}

async function allRows(c: Client): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of [2000, 20000]) {
    const rates: number[] = [];
    for (let rep = 0; rep < 3; rep++) rates.push(await bulk(c, n));
    rates.sort((a, b) => a - b);
    rows.push({ workload: `bulk of ${n} no-op tasks`, metric: 'tasks/s (median of 3)', value: Math.round(rates[1]) });
  }
  const queued = await latenciesMs((i) => c.call(noop, i), 200);
  rows.push({ workload: '200 sequential calls, queued', metric: 'p50 ms', value: +queued.p50.toFixed(3) });
  rows.push({ workload: '200 sequential calls, queued', metric: 'p99 ms', value: +queued.p99.toFixed(3) });
  const direct = await latenciesMs((i) => c.callWith({ async: false }, noop, i), 200);
  rows.push({ workload: '200 sequential calls, async: false', metric: 'p50 ms', value: +direct.p50.toFixed(3) });
  rows.push({ workload: '200 sequential calls, async: false', metric: 'p99 ms', value: +direct.p99.toFixed(3) });
  rows.push(...(await futuresRows(c)));
  return rows;
}

// Extra `ks start` flags after the script (e.g. `-- --history-max 0`); KS_BENCH_NODE_ARGS: node's own (e.g. `--cpu-prof`).
const extraFlags = process.argv.slice(2).filter((arg, i, all) => arg !== '--' && arg !== '--only' && all[i - 1] !== '--only');
const nodeArgs = process.env.KS_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
const node = await startKsNode(['--num-workers', '2', ...extraFlags], {}, { nodeArgs });
const c = new Client(node.url, { output: 'silent' });
try {
  await bulk(c, 2000); // warm-up
  const flagsNote = extraFlags.length > 0 ? { flags: extraFlags.join(' ') } : {};
  if (onlyFutures) report('throughput-futures', await futuresRows(c), { workers: 2, ...flagsNote });
  else report('throughput', await allRows(c), { workers: 2, ...flagsNote });
} finally {
  await c.close();
  await node.stop();
}
