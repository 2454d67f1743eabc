/**
 * `npm run bench:million -- [--items N] [--chunk-size K]` (issue 12, goal 3): one `c.map(x => x,
 * items)` of N no-op items (default 1,000,000) on one node with 2 worker threads and its own
 * Redis and NATS (embedded), as a user would run it. Samples every 250 ms, from /proc, the RSS
 * of the client (this process), the node and each of its child processes (redis-server,
 * nats-server), and Redis's `used_memory` (INFO, over a connection of its own); reports the
 * time, the peaks, the rate over the first and the last tenth of the results, and Redis's peak
 * per job waiting at that moment (`ks:q:default`'s length).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from '../index.js';
import { startKsNode } from './lib/ks-node.js';

const arg = (name: string): number | undefined => {
  const at = process.argv.indexOf(name);
  return at < 0 ? undefined : Number(process.argv[at + 1]);
};
const ITEMS = arg('--items') ?? 1_000_000;
const CHUNK_SIZE = arg('--chunk-size');
const SAMPLE_MS = 250;

/** kB → MB */
function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): { pid: number; name: string }[] {
  const out: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), name: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds (user + system) of a process and its threads, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const node = await startKsNode(['--num-workers', '2']);
  let lapses = 0;
  node.child.stderr!.on('data', (d: Buffer) => {
    lapses += (d.toString().match(/heartbeat lapsed/g) ?? []).length;
  });
  const children = childrenOf(node.pid).filter((c) => /redis|nats/.test(c.name));
  const c = new Client(node.url, { output: 'silent', progress: false });
  const redis = new Redis(await node.redisUrl());
  const peak: Record<string, number> = {};
  let redisPeak = 0;
  let redisPerWaiting = 0;
  const baseline = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  const settled: number[] = [];
  const t0 = performance.now();
  const sample = async () => {
    const rss: Record<string, number> = { client: rssMb(process.pid), node: rssMb(node.pid) };
    for (const child of children) rss[child.name] = rssMb(child.pid);
    for (const [k, v] of Object.entries(rss)) peak[k] = Math.max(peak[k] ?? 0, v);
    const [info, waiting] = await Promise.all([redis.info('memory'), redis.zcard('ks:q:default')]);
    const used = Number(/used_memory:(\d+)/.exec(info)![1]);
    redisPeak = Math.max(redisPeak, used);
    if (waiting > 1000) redisPerWaiting = Math.max(redisPerWaiting, (used - baseline) / waiting);
  };
  const timer = setInterval(() => void sample().catch(() => undefined), SAMPLE_MS);
  const cpuBefore = [process.pid, node.pid, ...children.map((ch) => ch.pid)].map(cpuSeconds);
  const items = Array.from({ length: ITEMS }, (_, i) => i);
  let results: number[];
  try {
    const total = CHUNK_SIZE ? Math.ceil(ITEMS / CHUNK_SIZE) : ITEMS;
    const progressClient = new Client(node.url, {
      output: 'silent',
      progress: false,
      onProgress: (p) => {
        while (settled.length < Math.floor((10 * (p.done + p.failed)) / total)) settled.push(performance.now() - t0);
      },
    });
    results = await progressClient.map((x: number) => x, items, CHUNK_SIZE ? { chunkSize: CHUNK_SIZE } : {});
    await progressClient.close();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sample();
  const cpu = [process.pid, node.pid, ...children.map((ch) => ch.pid)].map(cpuSeconds).map((s, i) => s - cpuBefore[i]);
  for (let i = 0; i < ITEMS; i++) if (results[i] !== i) throw new Error(`result ${i} is ${results[i]}`);
  const first = settled[0] ?? NaN;
  const last = settled.length >= 10 ? settled[9] - settled[8] : NaN;
  const perTenth = ITEMS / 10;
  console.log(JSON.stringify({
    date: new Date().toISOString(),
    items: ITEMS,
    chunkSize: CHUNK_SIZE ?? null,
    seconds: +seconds.toFixed(1),
    itemsPerSecond: Math.round(ITEMS / seconds),
    firstTenthPerSecond: Math.round(perTenth / (first / 1000)),
    lastTenthPerSecond: Math.round(perTenth / (last / 1000)),
    peakRssMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)])),
    redisUsedMemoryPeakMb: +(redisPeak / 1e6).toFixed(1),
    redisBytesPerWaitingJobPeak: Math.round(redisPerWaiting),
    ownHeartbeatLapses: lapses,
    cpuSeconds: { client: +cpu[0].toFixed(1), node: +cpu[1].toFixed(1), ...Object.fromEntries(children.map((ch, i) => [ch.name, +cpu[i + 2].toFixed(1)])) },
  }));
  redis.disconnect();
  await c.close();
  await node.stop();
}

await main();
