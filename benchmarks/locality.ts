/**
 * Locality routing against routing that ignores the data (`npm run bench:locality`).
 *
 * Three nodes (two worker threads each) share a redis-server and a nats-server that this
 * benchmark starts on loopback. Twelve datasets of 50 MB are saved, four on each node. The
 * workload is 60 tasks, five per dataset in a fixed shuffled order; each task reads its whole
 * dataset (`localPath()`, then the file) and does a fixed amount of CPU work (sha256 over
 * 1 MiB, 200 times). It runs with the default scheduler (locality routing with delay
 * scheduling), and with `benchmarks/schedulers/random.ts` and `round-robin.ts` given to
 * `ks start --scheduler`. The nodes are restarted for every run, and copies a run made are
 * deleted after it, so that no run profits from an earlier one. Runs alternate (the order of
 * schedulers rotates each repetition); each starts once the rest of the machine is quiet
 * (under 0.2 cores busy, waiting 3 s at most); the table shows medians.
 *
 * Measured per run: bytes moved between nodes (what the nodes' DataHolders received from
 * peers, GET /rpc/node), makespan (first bc to last result), tasks/s, the share of tasks
 * that ran where their dataset was, the CPU time of the three node processes (with their
 * worker threads) during the run, steadier than wall-clock time on a shared machine, and how
 * many cores the rest of the machine kept busy meanwhile (/proc/stat minus this benchmark's
 * processes: other users' work, and kernel work such as writing copies back to disk).
 *
 * KS_BENCH_LOCALITY_REPS (5), KS_BENCH_LOCALITY_MB (50), KS_BENCH_LOCALITY_DATASETS (12),
 * KS_BENCH_LOCALITY_TASKS (60), KS_BENCH_LOCALITY_WORK (200), KS_BENCH_LOCALITY_WORKERS (2 per
 * node) change the sizes;
 * KS_BENCH_LOCALITY_ONLY=<scheduler> runs one scheduler only.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeStatusInfo } from '../src/client/client.js';
import { Client, dr, du, type RemoteData } from '../index.js';
import { startClusterNode, startSharedServices, type ClusterNode, type SharedServices } from './lib/local-cluster.js';
import { report, type Row } from './lib/report.js';
import { svgBarChart } from './lib/svg-bar-chart.js';

const env = process.env;
const REPS = Number(env.KS_BENCH_LOCALITY_REPS ?? 5);
const DATASET_MB = Number(env.KS_BENCH_LOCALITY_MB ?? 50);
const DATASETS = Number(env.KS_BENCH_LOCALITY_DATASETS ?? 12);
const TASKS = Number(env.KS_BENCH_LOCALITY_TASKS ?? 60);
const WORK_MIB = Number(env.KS_BENCH_LOCALITY_WORK ?? 200);
const NODES = ['node1', 'node2', 'node3'];
const WORKERS = Number(env.KS_BENCH_LOCALITY_WORKERS ?? 2);
const MB = 1e6;
/** a run is "quiet" when the rest of the machine kept fewer cores than this busy */
const QUIET_CORES = 0.15;

interface SchedulerSetup {
  name: string;
  description: string;
  flags: string[];
  color: string;
}

const schedulerFile = (name: string) => new URL(`./schedulers/${name}.js`, import.meta.url).pathname;
const ALL_SCHEDULERS: SchedulerSetup[] = [
  { name: 'locality', description: 'default scheduler: locality routing + delay scheduling', flags: [], color: '#2b8a3e' },
  { name: 'random', description: '--scheduler benchmarks/schedulers/random.ts', flags: ['--scheduler', schedulerFile('random')], color: '#e8590c' },
  { name: 'round-robin', description: '--scheduler benchmarks/schedulers/round-robin.ts', flags: ['--scheduler', schedulerFile('round-robin')], color: '#1971c2' },
];
const SCHEDULERS = env.KS_BENCH_LOCALITY_ONLY ? ALL_SCHEDULERS.filter((s) => s.name === env.KS_BENCH_LOCALITY_ONLY) : ALL_SCHEDULERS;

interface RunResult {
  scheduler: string;
  rep: number;
  makespanS: number;
  tasksPerS: number;
  bytesMoved: number;
  copies: number;
  localShare: number;
  /** CPU seconds the three node processes (with their worker threads) used during the run */
  nodeCpuS: number;
  /**
   * cores kept busy during the run by everything but this benchmark's processes: other users'
   * work, and kernel work not charged to the nodes (such as writing copies back to disk)
   */
  otherCores: number;
  /** how long the run waited for the rest of the machine to be quiet before starting */
  waitedMs: number;
  perNode: Record<string, number>;
  loadBefore: number;
  loadAfter: number;
}

/** The task: read the whole dataset where it runs, then a fixed amount of CPU work. */
const task = async (data: RemoteData, workMiB: number) => {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const { taskContext } = await import('kitchensink');
  const bytes = await readFile(await data.localPath());
  let digest = createHash('sha256').update(bytes).digest();
  const block = bytes.subarray(0, 1 << 20);
  for (let i = 0; i < workMiB; i++) digest = createHash('sha256').update(digest).update(block).digest();
  return { node: taskContext().node.name, digest: digest.toString('hex').slice(0, 12) };
};

/** A fixed pseudo-random order (mulberry32), the same for every scheduler and run. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** CPU seconds the whole machine spent busy so far (all cores; Linux /proc/stat, 100 ticks a second). */
function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / 100;
}

/**
 * Waits (at most `maxMs`) until the rest of the machine keeps less than `cores` busy over a
 * 500 ms window, so that every run starts on an equally quiet machine. Returns the ms waited.
 */
async function waitForQuiet(ownPids: number[], cores = 0.2, maxMs = 3000): Promise<number> {
  const started = performance.now();
  const ours = () => ownPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) + (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  while (performance.now() - started < maxMs) {
    const [busy0, ours0, t0] = [machineBusySeconds(), ours(), performance.now()];
    await new Promise((r) => setTimeout(r, 500));
    const rest = (machineBusySeconds() - busy0 - (ours() - ours0)) / ((performance.now() - t0) / 1000);
    if (rest < cores) break;
  }
  return Math.round(performance.now() - started);
}

/** user + system CPU seconds of a process so far (Linux /proc; 100 ticks a second). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const root = mkdtempSync(join(tmpdir(), 'ks-bench-locality-'));
const datadirs = Object.fromEntries(NODES.map((name) => [name, join(root, name)]));
let services: SharedServices | undefined;
let running: ClusterNode[] = [];

async function stopAll(): Promise<void> {
  await Promise.all(running.map((n) => n.stop()));
  running = [];
  await services?.stop();
  services = undefined;
  rmSync(root, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  void stopAll().finally(() => process.exit(130));
});

async function startCluster(setup: SchedulerSetup): Promise<ClusterNode[]> {
  running = await Promise.all(NODES.map((name) => startClusterNode({
    name,
    datadir: datadirs[name],
    services: services!,
    flags: ['--num-workers', String(WORKERS), ...setup.flags],
  })));
  return running;
}

async function stopCluster(): Promise<void> {
  await Promise.all(running.map((n) => n.stop()));
  running = [];
}

/** Deletes every copy a run made: each dataset stays only on the node it was saved on. */
async function deleteCopies(c: Client, holderOf: Map<string, string>): Promise<void> {
  const info = await c.dataInfo([...holderOf.keys()]);
  for (const [url, entry] of Object.entries(info.data)) {
    for (const host of entry.holders) if (host !== holderOf.get(url)) await c.deleteData(url, { host });
  }
}

async function nodeStatus(node: ClusterNode): Promise<NodeStatusInfo> {
  const c = new Client(node.url, { output: 'silent' });
  try {
    return await c.nodeStatus();
  } finally {
    await c.close();
  }
}

async function runOnce(setup: SchedulerSetup, rep: number, order: string[], holderOf: Map<string, string>): Promise<RunResult> {
  const nodes = await startCluster(setup);
  const c = new Client(nodes[0].url, { output: 'silent' });
  try {
    await deleteCopies(c, holderOf);
    const waitedMs = await waitForQuiet([...nodes.map((n) => n.pid), ...services!.pids]);
    const loadBefore = loadavg()[0];
    const ours = () => nodes.reduce((sum, n) => sum + cpuSeconds(n.pid), 0);
    const mine = () => services!.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) + (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    const [cpuBefore, mineBefore, busyBefore] = [ours(), mine(), machineBusySeconds()];
    const t0 = performance.now();
    for (const url of order) c.bc(task, du(url), WORK_MIB);
    await c.execute();
    const results = (await c.br()) as { node: string }[];
    const makespanS = (performance.now() - t0) / 1000;
    const nodeCpuS = ours() - cpuBefore;
    const otherCores = Math.max(0, machineBusySeconds() - busyBefore - nodeCpuS - (mine() - mineBefore)) / makespanS;
    const loadAfter = loadavg()[0];
    const statuses = await Promise.all(nodes.map(nodeStatus));
    const perNode: Record<string, number> = {};
    for (const r of results) perNode[r.node] = (perNode[r.node] ?? 0) + 1;
    const local = results.filter((r, i) => r.node === holderOf.get(order[i])).length;
    await deleteCopies(c, holderOf);
    return {
      scheduler: setup.name,
      rep,
      makespanS,
      tasksPerS: TASKS / makespanS,
      bytesMoved: statuses.reduce((sum, s) => sum + s.data.received.bytes, 0),
      copies: statuses.reduce((sum, s) => sum + s.data.received.copies, 0),
      localShare: local / TASKS,
      nodeCpuS,
      otherCores,
      waitedMs,
      perNode,
      loadBefore,
      loadAfter,
    };
  } finally {
    await c.close();
    await stopCluster();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  for (const dir of Object.values(datadirs)) mkdirSync(dir);
  services = await startSharedServices();

  // Datasets: four consecutive ones on each node, saved once for all runs.
  const holderOf = new Map<string, string>();
  const nodes = await startCluster(SCHEDULERS[0]);
  for (let j = 0; j < DATASETS; j++) {
    const holder = nodes[Math.floor((j * NODES.length) / DATASETS)];
    const data = dr(randomBytes(DATASET_MB * MB));
    data.rpcUrl = holder.url;
    await data.save({ url: `bench/dataset-${String(j).padStart(2, '0')}` });
    holderOf.set(data.dataUrl, holder.name);
  }
  await stopCluster();
  const urls = [...holderOf.keys()];
  const order = shuffled(Array.from({ length: TASKS }, (_, i) => urls[i % urls.length]), 20_240_601);
  console.log(`${DATASETS} datasets of ${DATASET_MB} MB saved (${DATASETS / NODES.length} per node); ${TASKS} tasks; ${REPS} repetitions`);

  const runs: RunResult[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const rotation = SCHEDULERS.map((_, i) => SCHEDULERS[(i + rep) % SCHEDULERS.length]);
    for (const setup of rotation) {
      const run = await runOnce(setup, rep, order, holderOf);
      runs.push(run);
      console.log(`rep ${rep + 1} ${setup.name.padEnd(11)} makespan ${run.makespanS.toFixed(2)} s, ${(run.bytesMoved / MB).toFixed(0)} MB moved in ${run.copies} copies, ${(run.localShare * 100).toFixed(0)}% local, nodes' CPU ${run.nodeCpuS.toFixed(1)} s, per node ${JSON.stringify(run.perNode)}, rest of the machine ${run.otherCores.toFixed(2)} cores (waited ${run.waitedMs} ms for < 0.2 before)`);
    }
  }

  const summary = SCHEDULERS.map((setup) => {
    const mine = runs.filter((r) => r.scheduler === setup.name);
    return {
      setup,
      makespanS: median(mine.map((r) => r.makespanS)),
      tasksPerS: median(mine.map((r) => r.tasksPerS)),
      bytesMoved: median(mine.map((r) => r.bytesMoved)),
      copies: median(mine.map((r) => r.copies)),
      localShare: median(mine.map((r) => r.localShare)),
      nodeCpuS: median(mine.map((r) => r.nodeCpuS)),
      otherCores: median(mine.map((r) => r.otherCores)),
      makespanRange: [Math.min(...mine.map((r) => r.makespanS)), Math.max(...mine.map((r) => r.makespanS))],
      quiet: mine.filter((r) => r.otherCores < QUIET_CORES).map((r) => r.makespanS),
    };
  });
  const rows: Row[] = summary.map((s) => ({
    routing: s.setup.name,
    'MB moved between nodes': Math.round(s.bytesMoved / MB),
    'copies': s.copies,
    'tasks where their data was': `${Math.round(s.localShare * 100)}%`,
    'makespan s': +s.makespanS.toFixed(2),
    'makespan range s': `${s.makespanRange[0].toFixed(2)}–${s.makespanRange[1].toFixed(2)}`,
    'tasks/s': +s.tasksPerS.toFixed(2),
    'nodes\' CPU s': +s.nodeCpuS.toFixed(1),
    'rest of machine (cores)': +s.otherCores.toFixed(2),
    [`makespan s, quiet runs (rest < ${QUIET_CORES})`]: s.quiet.length ? `${median(s.quiet).toFixed(2)} (${s.quiet.length} runs)` : '-',
  }));
  const config = {
    nodes: NODES.length,
    workersPerNode: WORKERS,
    datasets: DATASETS,
    datasetMB: DATASET_MB,
    tasks: TASKS,
    workMiBHashedPerTask: WORK_MIB,
    repetitions: REPS,
    schedulers: Object.fromEntries(SCHEDULERS.map((s) => [s.name, s.description])),
    statistic: 'median over repetitions',
  };
  report('locality', rows, { config, runs, totalSeconds: Math.round((performance.now() - started) / 1000) });
  writeChart(summary);
}

function writeChart(summary: { setup: SchedulerSetup; makespanS: number; tasksPerS: number; bytesMoved: number; nodeCpuS: number }[]): void {
  const series = summary.map((s) => ({ name: s.setup.name, color: s.setup.color }));
  const group = (label: string, values: number[], format: (v: number) => string) => {
    const max = Math.max(...values, Number.EPSILON);
    return { label, bars: values.map((v) => ({ value: v / max, label: format(v) })) };
  };
  const svg = svgBarChart({
    title: `Locality routing: ${TASKS} tasks over ${DATASETS} datasets of ${DATASET_MB} MB on 3 nodes`,
    subtitle: `3 nodes × ${WORKERS} worker threads on ${cpus().length} shared cores; median of ${REPS} runs each; ${new Date().toISOString().slice(0, 10)}`,
    axisLabel: 'bar length: relative to the largest value in its group\nlocality = the default scheduler; random and round-robin ignore the data (ks start --scheduler)',
    series,
    groups: [
      group('makespan (s), lower is better', summary.map((s) => s.makespanS), (v) => `${v.toFixed(2)} s`),
      group('throughput (tasks/s), higher is better', summary.map((s) => s.tasksPerS), (v) => `${v.toFixed(2)} tasks/s`),
      group('bytes moved between nodes (MB), lower is better', summary.map((s) => s.bytesMoved / MB), (v) => `${v.toFixed(0)} MB`),
      group('CPU time of the three nodes (s), lower is better', summary.map((s) => s.nodeCpuS), (v) => `${v.toFixed(1)} s`),
    ],
  });
  const file = new URL('../../benchmarks/results/locality.svg', import.meta.url);
  writeFileSync(file, svg);
  console.log('wrote benchmarks/results/locality.svg');
}

try {
  await main();
} finally {
  await stopAll();
}
