/**
 * What the metrics hooks cost per job (docs/metrics.md, "Cost on the hot path"): 10^6 calls
 * of each hook, against prom-client's own Histogram.observe for comparison. No node, no
 * Redis: `node dist/benchmarks/metrics-hooks.js`.
 */
import { Histogram, Registry } from 'prom-client';
import { NodeMetrics, type MetricsProbes } from '../actors/node/metrics.js';
import { jobId, newBatchId } from '../src/ids.js';
import type { ClaimedJob, Store } from '../src/store/store.js';

const N = 1e6;
const probes: MetricsProbes = {
  threads: async () => ({ busy: 0, idle: 1 }),
  diskBytesHeld: async () => 0,
  memoryBytesHeld: async () => 0,
  queueWaiting: async () => ({}),
  redisUp: async () => true,
  natsUp: async () => true,
};
// Jobs from the shared queue never reach the store.
const metrics = new NodeMetrics('bench', null as unknown as Store, probes);
const batch = newBatchId();
const claim: ClaimedJob[] = Array.from({ length: 500 }, (_, i) => ({
  id: jobId(batch, i), fn: 'f', kind: 'shipped', args: new Uint8Array(), opts: null, attempts: 0, queue: 'default', head: 'bench',
}));

function time(name: string, run: () => void): void {
  run(); // warm-up
  const start = process.hrtime.bigint();
  run();
  console.log(`${name.padEnd(56)} ${(Number(process.hrtime.bigint() - start) / N).toFixed(1)} ns per job`);
}

const registry = new Registry();
const promHistogram = new Histogram({ name: 'h', help: 'h', labelNames: ['queue'], buckets: [0.001, 0.01, 0.1, 1, 10], registers: [registry] }).labels('default');
time('prom-client Histogram observe (for comparison)', () => {
  for (let i = 0; i < N; i++) promHistogram.observe(i * 1e-9);
});
time('jobFinished (outcome, duration)', () => {
  for (let i = 0; i < N; i++) metrics.jobFinished('default', undefined, 0.05, 0);
});
time('jobsStarted, claims of 500 (wait, locality choice)', () => {
  for (let i = 0; i < N / claim.length; i++) metrics.jobsStarted(claim, false);
});
time('jobsSubmitted, submits of 500', () => {
  for (let i = 0; i < N / claim.length; i++) metrics.jobsSubmitted(claim);
});
const start = process.hrtime.bigint();
const text = await metrics.exposition();
console.log(`a scrape's formatting: ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms, ${text.length} bytes`);
process.exit(0);
