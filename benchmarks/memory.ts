/**
 * The node's memory tier against reading from disk (`npm run bench:memory`, issue 11).
 *
 * One node, two worker threads, on a redis-server and nats-server this benchmark starts on
 * loopback. One object of 50 MB is saved (CBOR: `{ items: Float64Array }`, 6.25 M numbers);
 * the workload is 200 tasks, each reading it with `obj()` and summing `items`. It runs twice
 * on a fresh node each time: `--memory-cache 0` (every read is a disk read and a decode, as
 * before the tier) and with the memory tier (`--memory-cache 256MiB`). The object was read
 * once before each run (so the file is in the page cache for both: "disk" is the best case of
 * a disk).
 *
 * Measured: each task's `obj()` time (inside the task), split into each thread's first read
 * and the later ones; the time of the sum; the whole workload (first submit to last result); the node process's
 * RSS (with its worker threads) before the workload and after it. Writes
 * benchmarks/results/memory.json and its chart, memory.svg (memory-chart.ts).
 *
 * The typed array decodes as a view on the shared bytes only when its data lies at an 8-byte
 * aligned offset of the CBOR: here the key `items` (5 characters, after cbor-x's 3-byte map
 * header) puts it at offset 16. At an unaligned offset cbor-x copies it, once per thread. KS_BENCH_MEMORY_MB (50) and
 * KS_BENCH_MEMORY_TASKS (200) change the sizes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, dobj, du, type RemoteData } from '../index.js';
import { startClusterNode, startSharedServices, type SharedServices } from './lib/local-cluster.js';
import { renderMemoryChart, rssGrowthVsObject, type MemoryRunResult } from './memory-chart.js';

const MB = Number(process.env.KS_BENCH_MEMORY_MB ?? 50);
const TASKS = Number(process.env.KS_BENCH_MEMORY_TASKS ?? 200);

/** MiB */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (n: number) => Math.round(n * 1000) / 1000;

async function run(services: SharedServices, mode: 'disk' | 'memory'): Promise<MemoryRunResult> {
  const datadir = mkdtempSync(join(tmpdir(), `ks-bench-memory-${mode}-`));
  const memoryCache = mode === 'disk' ? '0' : '256MiB';
  const node = await startClusterNode({ name: `bench-${mode}`, datadir, services, flags: ['--num-workers', '2', '--memory-cache', memoryCache] });
  const c = new Client(node.url, { output: 'silent' });
  const URL_ = `bench/memory/${mode}`;
  try {
    const samples = new Float64Array((MB * 1e6) / 8).map((_, i) => i % 1000);
    const data = dobj({ items: samples });
    data.rpcUrl = node.url;
    await data.save({ url: URL_ });
    readFileSync(join(datadir, ...URL_.split('/'))); // into the page cache
    // Warm the threads (function shipping, imports) without reading the object.
    await Promise.all([1, 2, 3, 4].map(() => c.call(async () => 0)));
    const rssBefore = rssMb(node.pid);

    const task = async (d: RemoteData<{ items: Float64Array }>) => {
      const { threadId } = await import('node:worker_threads');
      const started = performance.now();
      const object = await d.obj();
      const readMs = performance.now() - started;
      const items = object.items;
      let sum = 0;
      for (let i = 0; i < items.length; i++) sum += items[i];
      return { thread: threadId, readMs, sumMs: performance.now() - started - readMs, sum, at: Date.now() };
    };
    const started = performance.now();
    const results = await c.map(task, Array.from({ length: TASKS }, () => du(URL_)));
    const workloadMs = performance.now() - started;
    const rssAfter = rssMb(node.pid);
    const expected = samples.reduce((a, b) => a + b, 0);
    if (results.some((r) => r.sum !== expected)) throw new Error('a task summed the wrong value');

    const seen = new Set<number>();
    const first: number[] = [];
    const later: number[] = [];
    for (const r of [...results].sort((a, b) => a.at - b.at)) {
      if (seen.has(r.thread)) later.push(r.readMs);
      else {
        seen.add(r.thread);
        first.push(r.readMs);
      }
    }
    later.sort((a, b) => a - b);
    const sums = results.map((r) => r.sumMs).sort((a, b) => a - b);
    const status = await c.nodeStatus();
    return {
      mode,
      memoryCache,
      firstReadMs: first.map(round),
      laterReadMs: { median: round(quantile(later, 0.5)), p90: round(quantile(later, 0.9)), mean: round(later.reduce((a, b) => a + b, 0) / later.length), count: later.length },
      sumMs: { median: round(quantile(sums, 0.5)), mean: round(sums.reduce((a, b) => a + b, 0) / sums.length) },
      workloadMs: round(workloadMs),
      rssBeforeMb: round(rssBefore),
      rssAfterMb: round(rssAfter),
      rssGrowthMb: round(rssAfter - rssBefore),
      memoryTierUsedMb: status.data.memory ? round(status.data.memory.used / 1e6) : null,
    };
  } finally {
    await c.close();
    await node.stop();
    rmSync(datadir, { recursive: true, force: true });
  }
}

const services = await startSharedServices();
try {
  const disk = await run(services, 'disk');
  const memory = await run(services, 'memory');
  const summary = {
    objectMb: MB,
    tasks: TASKS,
    threads: 2,
    laterReadSpeedup: round(disk.laterReadMs.median / memory.laterReadMs.median),
    workloadSpeedup: round(disk.workloadMs / memory.workloadMs),
    memoryRssGrowthVsObject: round(rssGrowthVsObject(memory, MB)),
  };
  const output = { date: new Date().toISOString(), loadavg: loadavg(), cores: cpus().length, summary, runs: [disk, memory] };
  const dir = new URL('../../benchmarks/results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'memory.json'), `${JSON.stringify(output, null, 2)}\n`);
  renderMemoryChart();
  console.log(JSON.stringify(output, null, 2));
} finally {
  await services.stop();
}
