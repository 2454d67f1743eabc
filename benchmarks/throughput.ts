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

// Extra `ks start` flags after the script (e.g. `-- --history-max 0`); KS_BENCH_NODE_ARGS: node's own (e.g. `--cpu-prof`).
const extraFlags = process.argv.slice(2).filter((arg) => arg !== '--');
const nodeArgs = process.env.KS_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
const node = await startKsNode(['--num-workers', '2', ...extraFlags], {}, { nodeArgs });
const c = new Client(node.url, { output: 'silent' });
try {
  await bulk(c, 2000); // warm-up
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
  report('throughput', rows, { workers: 2, ...(extraFlags.length > 0 ? { flags: extraFlags.join(' ') } : {}) });
} finally {
  await c.close();
  await node.stop();
}
