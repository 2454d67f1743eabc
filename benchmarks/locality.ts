/**
 * Locality routing against routing that ignores the data, and against Dask distributed
 * (`npm run bench:locality`).
 *
 * Three nodes (two worker threads each) share a redis-server and a nats-server that this
 * benchmark starts on loopback. Twelve datasets of 50 MB are saved, four on each node. The
 * workload is 60 tasks, five per dataset in a fixed shuffled order; each task takes its whole
 * dataset and does a fixed amount of CPU work (sha256 over the dataset, then over 1 MiB, 200
 * times). Setups (runs alternate; the order rotates each repetition):
 * - `locality`: the default scheduler (locality routing with delay scheduling); the task reads
 *   its dataset's file (`localPath()`, then `readFile`);
 * - `locality-memory`: the same, the datasets pinned in the nodes' memory tier (`c.load()`,
 *   before the clock starts) and read with `obj()` (no copy, no disk);
 * - `random`, `round-robin`: `benchmarks/schedulers/*.ts` given to `ks start --scheduler`,
 *   reading files;
 * - `dask-memory`, `dask-file`: Dask distributed (Debian's python3-distributed; a scheduler
 *   and three `dask worker --nthreads 2` processes, benchmarks/peers/dask_locality.py), the
 *   datasets scattered to the matching workers before the clock starts and the tasks submitted
 *   unpinned; `dask-file` also re-reads each dataset's file like `locality`. Skipped with one
 *   line when Dask is not installed (benchmarks/peers/setup.sh installs it as root).
 * The nodes and workers are restarted for every run, and copies a run made are deleted after
 * it, so that no run profits from an earlier one. Each run starts once the rest of the machine
 * is quiet (under 0.2 cores busy, waiting 3 s at most); the table shows medians.
 *
 * Then the skewed workload: every dataset on node1 (6 datasets, 30 tasks), each task takes its
 * dataset (from memory) and then waits (no CPU), 20 ms and 500 ms: with short waits, waiting
 * for node1's threads pays; with long ones, copying the data to the idle nodes does.
 * kitchensink (locality routing, memory tier) against Dask.
 *
 * Measured per run: bytes moved between nodes (what the nodes' DataHolders received from
 * peers, GET /rpc/node; Dask: its workers' incoming transfer log), makespan (first submit to
 * last result), tasks/s, the share of tasks that ran where their dataset was, the CPU time of
 * the cluster's processes during the run (kitchensink: nodes with their threads, redis-server
 * and nats-server; Dask: the scheduler and the workers), the tasks' own work in CPU seconds
 * (the task's body timed alone in one process, times the tasks), and how many cores the rest
 * of the machine kept busy meanwhile.
 *
 * KS_BENCH_LOCALITY_REPS (5), KS_BENCH_LOCALITY_MB (50), KS_BENCH_LOCALITY_DATASETS (12),
 * KS_BENCH_LOCALITY_TASKS (60), KS_BENCH_LOCALITY_WORK (200), KS_BENCH_LOCALITY_WORKERS (2 per
 * node) change the sizes; KS_BENCH_LOCALITY_ONLY=<setup,setup> runs those setups only;
 * KS_BENCH_LOCALITY_SKEW=0 skips the skewed workload; KS_BENCH_NODE_ARGV passes Node options to
 * the nodes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeStatusInfo } from '../src/client/client.js';
import { Client, dr, du, type RemoteData } from '../index.js';
import { freePort } from '../src/loopback-ports.js';
import { startClusterNode, startSharedServices, type ClusterNode, type SharedServices } from './lib/local-cluster.js';
import { report, type Row } from './lib/report.js';
import { svgBarChart } from './lib/svg-bar-chart.js';
import { cpuSeconds, machineBusySeconds, ownCpuSeconds, waitForQuiet } from './lib/proc-cpu.js';

const env = process.env;
const REPS = Number(env.KS_BENCH_LOCALITY_REPS ?? 5);
const DATASET_MB = Number(env.KS_BENCH_LOCALITY_MB ?? 50);
const DATASETS = Number(env.KS_BENCH_LOCALITY_DATASETS ?? 12);
const TASKS = Number(env.KS_BENCH_LOCALITY_TASKS ?? 60);
const WORK_MIB = Number(env.KS_BENCH_LOCALITY_WORK ?? 200);
const SKEW_DATASETS = 6;
const SKEW_TASKS = 30;
const SKEW_WAITS_MS = [20, 500];
const NODES = ['node1', 'node2', 'node3'];
const WORKERS = Number(env.KS_BENCH_LOCALITY_WORKERS ?? 2);
const MB = 1e6;
/** a run is "quiet" when the rest of the machine kept fewer cores than this busy */
const QUIET_CORES = 0.15;
const PYTHON = '/usr/bin/python3';
const DASK_DRIVER = new URL('../../benchmarks/peers/dask_locality.py', import.meta.url).pathname;

type Read = 'file' | 'memory';
interface Setup {
  name: string;
  system: 'kitchensink' | 'dask';
  description: string;
  read: Read;
  flags: string[];
  color: string;
}

const schedulerFile = (name: string) => new URL(`./schedulers/${name}.js`, import.meta.url).pathname;
const ALL_SETUPS: Setup[] = [
  { name: 'locality', system: 'kitchensink', read: 'file', description: 'default scheduler: locality routing + delay scheduling; tasks read the file', flags: [], color: '#2b8a3e' },
  { name: 'locality-memory', system: 'kitchensink', read: 'memory', description: 'default scheduler; datasets pinned in the memory tier, tasks read obj()', flags: [], color: '#69db7c' },
  { name: 'random', system: 'kitchensink', read: 'file', description: '--scheduler benchmarks/schedulers/random.ts', flags: ['--scheduler', schedulerFile('random')], color: '#e8590c' },
  { name: 'round-robin', system: 'kitchensink', read: 'file', description: '--scheduler benchmarks/schedulers/round-robin.ts', flags: ['--scheduler', schedulerFile('round-robin')], color: '#1971c2' },
  { name: 'dask-memory', system: 'dask', read: 'memory', description: 'Dask distributed: datasets scattered to the workers, tasks unpinned', flags: [], color: '#7048e8' },
  { name: 'dask-file', system: 'dask', read: 'file', description: 'Dask distributed: as dask-memory, and each task re-reads its file', flags: [], color: '#b197fc' },
];

function daskSkipReason(): string | undefined {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import distributed'], { stdio: 'ignore' }).status !== 0) {
    return 'python3-distributed is not installed (benchmarks/peers/setup.sh installs it when run as root)';
  }
  return undefined;
}
const daskSkip = daskSkipReason();
if (daskSkip) console.log(`skipping Dask: ${daskSkip}`);
const only = env.KS_BENCH_LOCALITY_ONLY?.split(',');
const SETUPS = ALL_SETUPS.filter((s) => (!only || only.includes(s.name)) && !(s.system === 'dask' && daskSkip));

interface RunResult {
  setup: string;
  rep: number;
  makespanS: number;
  tasksPerS: number;
  bytesMoved: number;
  copies: number;
  localShare: number;
  /** CPU seconds of the cluster's processes during the run (kitchensink: nodes, redis, nats; Dask: scheduler, workers) */
  cpuS: number;
  /** of which the nodes' (kitchensink only) */
  nodeCpuS?: number;
  /** cores kept busy during the run by everything but the cluster and this benchmark */
  otherCores?: number;
  waitedMs?: number;
  perNode: Record<string, number>;
}

/** The task: take the whole dataset where it runs, then a fixed amount of CPU work. */
const fileTask = async (data: RemoteData, workMiB: number) => {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const { taskContext } = await import('kitchensink');
  const bytes = await readFile(await data.localPath());
  let digest = createHash('sha256').update(bytes).digest();
  const block = bytes.subarray(0, 1 << 20);
  for (let i = 0; i < workMiB; i++) digest = createHash('sha256').update(digest).update(block).digest();
  return { node: taskContext().node.name, digest: digest.toString('hex').slice(0, 12) };
};
const memoryTask = async (data: RemoteData<Buffer>, workMiB: number) => {
  const { createHash } = await import('node:crypto');
  const { taskContext } = await import('kitchensink');
  const bytes = await data.obj();
  let digest = createHash('sha256').update(bytes).digest();
  const block = bytes.subarray(0, 1 << 20);
  for (let i = 0; i < workMiB; i++) digest = createHash('sha256').update(digest).update(block).digest();
  return { node: taskContext().node.name, digest: digest.toString('hex').slice(0, 12) };
};
/** The skewed workload's task: take the dataset, then wait (no CPU). */
const waitTask = async (data: RemoteData<Buffer>, waitMs: number) => {
  const { taskContext } = await import('kitchensink');
  const bytes = await data.obj();
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return { node: taskContext().node.name, size: bytes.length };
};

/** CPU seconds of one task's own work in this process, without a cluster (median of 3). */
function taskWorkCpuS(read: Read, path: string): number {
  const samples: number[] = [];
  const data = readFileSync(path);
  for (let k = 0; k < 3; k++) {
    const t0 = ownCpuSeconds();
    const bytes = read === 'file' ? readFileSync(path) : data;
    let digest = createHash('sha256').update(bytes).digest();
    const block = bytes.subarray(0, 1 << 20);
    for (let i = 0; i < WORK_MIB; i++) digest = createHash('sha256').update(digest).update(block).digest();
    samples.push(ownCpuSeconds() - t0);
  }
  return median(samples);
}

/** A fixed pseudo-random order (mulberry32), the same for every setup and run. */
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

async function startCluster(flags: string[]): Promise<ClusterNode[]> {
  running = await Promise.all(NODES.map((name) => startClusterNode({
    name,
    datadir: datadirs[name],
    services: services!,
    flags: ['--num-workers', String(WORKERS), ...flags],
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

interface Workload {
  /** dataset url of each task, in submit order */
  order: string[];
  holderOf: Map<string, string>;
  /** wait instead of CPU work (the skewed workload) */
  waitMs?: number;
}

async function runKitchensink(setup: Setup, rep: number, work: Workload): Promise<RunResult> {
  const nodes = await startCluster(setup.flags);
  const c = new Client(nodes[0].url, { output: 'silent' });
  try {
    await deleteCopies(c, work.holderOf);
    if (setup.read === 'memory') await c.load([...new Set(work.order)]);
    const clusterPids = [...nodes.map((n) => n.pid), ...services!.pids];
    const waitedMs = await waitForQuiet(clusterPids);
    const nodesCpu = () => nodes.reduce((sum, n) => sum + cpuSeconds(n.pid), 0);
    const clusterCpu = () => clusterPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const [nodesBefore, clusterBefore, mineBefore, busyBefore] = [nodesCpu(), clusterCpu(), ownCpuSeconds(), machineBusySeconds()];
    const t0 = performance.now();
    const monotonicStart = process.hrtime.bigint() / 1000n;
    for (const url of work.order) {
      if (work.waitMs !== undefined) c.bc(waitTask, du(url), work.waitMs);
      else if (setup.read === 'memory') c.bc(memoryTask, du(url), WORK_MIB);
      else c.bc(fileTask, du(url), WORK_MIB);
    }
    await c.execute();
    const results = (await c.br()) as { node: string }[];
    const makespanS = (performance.now() - t0) / 1000;
    // the run's window on the monotonic clock (µs), to cut the nodes' --cpu-prof profiles to it
    if (env.KS_BENCH_NODE_ARGV) console.log(`run window (monotonic µs): ${monotonicStart} ${process.hrtime.bigint() / 1000n}`);
    const cpuS = clusterCpu() - clusterBefore;
    const otherCores = Math.max(0, machineBusySeconds() - busyBefore - cpuS - (ownCpuSeconds() - mineBefore)) / makespanS;
    const statuses = await Promise.all(nodes.map(nodeStatus));
    const perNode: Record<string, number> = {};
    for (const r of results) perNode[r.node] = (perNode[r.node] ?? 0) + 1;
    const local = results.filter((r, i) => r.node === work.holderOf.get(work.order[i])).length;
    await deleteCopies(c, work.holderOf);
    return {
      setup: setup.name,
      rep,
      makespanS,
      tasksPerS: work.order.length / makespanS,
      bytesMoved: statuses.reduce((sum, s) => sum + s.data.received.bytes, 0),
      copies: statuses.reduce((sum, s) => sum + s.data.received.copies, 0),
      localShare: local / work.order.length,
      cpuS,
      nodeCpuS: nodesCpu() - nodesBefore,
      otherCores,
      waitedMs,
      perNode,
    };
  } finally {
    await c.close();
    await stopCluster();
  }
}

function runDaskDriver(config: Record<string, unknown>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [DASK_DRIVER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1)!) : reject(new Error(`dask_locality.py exited with ${code}: ${err}`))));
  });
}

async function runDask(setup: Setup, rep: number, work: Workload): Promise<RunResult> {
  const dir = mkdtempSync(join(root, 'dask-'));
  try {
    const urls = [...work.holderOf.keys()];
    const config = {
      variant: work.waitMs !== undefined ? 'wait' : setup.read,
      holders: urls.map((url) => NODES.indexOf(work.holderOf.get(url)!)),
      order: work.order.map((url) => urls.indexOf(url)),
      mb: DATASET_MB,
      work: WORK_MIB,
      waitMs: work.waitMs ?? 0,
      dir,
      schedulerPort: await freePort(),
    };
    const out = JSON.parse(await runDaskDriver(config)) as { makespanS: number; bytesMoved: number; copies: number; localShare: number; cpuS: number; perNode: Record<string, number> };
    return { setup: setup.name, rep, tasksPerS: work.order.length / out.makespanS, ...out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runOnce = (setup: Setup, rep: number, work: Workload) => (setup.system === 'dask' ? runDask(setup, rep, work) : runKitchensink(setup, rep, work));

async function saveDatasets(prefix: string, count: number, holderIndex: (j: number) => number): Promise<Map<string, string>> {
  const holderOf = new Map<string, string>();
  const nodes = await startCluster([]);
  for (let j = 0; j < count; j++) {
    const holder = nodes[holderIndex(j)];
    const data = dr(randomBytes(DATASET_MB * MB));
    data.rpcUrl = holder.url;
    await data.save({ url: `bench/${prefix}-${String(j).padStart(2, '0')}` });
    holderOf.set(data.dataUrl, holder.name);
  }
  await stopCluster();
  return holderOf;
}

function logRun(run: RunResult, label = run.setup): void {
  const other = run.otherCores === undefined ? '' : `, rest of the machine ${run.otherCores.toFixed(2)} cores (waited ${run.waitedMs} ms for < 0.2 before)`;
  console.log(`rep ${run.rep + 1} ${label.padEnd(16)} makespan ${run.makespanS.toFixed(2)} s, ${(run.bytesMoved / MB).toFixed(0)} MB moved in ${run.copies} copies, ${(run.localShare * 100).toFixed(0)}% local, cluster CPU ${run.cpuS.toFixed(1)} s, per node ${JSON.stringify(run.perNode)}${other}`);
}

function summarize(runs: RunResult[], workCpuS: (setup: Setup) => number | undefined, setups: Setup[]) {
  return setups.map((setup) => {
    const mine = runs.filter((r) => r.setup === setup.name);
    const cpuS = median(mine.map((r) => r.cpuS));
    const work = workCpuS(setup);
    return {
      setup,
      makespanS: median(mine.map((r) => r.makespanS)),
      makespanRange: [Math.min(...mine.map((r) => r.makespanS)), Math.max(...mine.map((r) => r.makespanS))],
      tasksPerS: median(mine.map((r) => r.tasksPerS)),
      bytesMoved: median(mine.map((r) => r.bytesMoved)),
      movedRange: [Math.min(...mine.map((r) => r.bytesMoved)), Math.max(...mine.map((r) => r.bytesMoved))],
      copies: median(mine.map((r) => r.copies)),
      localShare: median(mine.map((r) => r.localShare)),
      cpuS,
      overhead: work === undefined ? undefined : (cpuS - work) / work,
      otherCores: mine[0]?.otherCores === undefined ? undefined : median(mine.map((r) => r.otherCores!)),
    };
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  for (const dir of Object.values(datadirs)) mkdirSync(dir);
  services = await startSharedServices();

  // Datasets: four consecutive ones on each node, saved once for all runs.
  const holderOf = await saveDatasets('dataset', DATASETS, (j) => Math.floor((j * NODES.length) / DATASETS));
  const urls = [...holderOf.keys()];
  const order = shuffled(Array.from({ length: TASKS }, (_, i) => urls[i % urls.length]), 20_240_601);
  console.log(`${DATASETS} datasets of ${DATASET_MB} MB saved (${DATASETS / NODES.length} per node); ${TASKS} tasks; ${REPS} repetitions`);

  // The tasks' own work, timed alone in one process (no cluster), for each system.
  const sample = join(root, 'sample');
  writeFileSync(sample, randomBytes(DATASET_MB * MB));
  const nodeWork: Record<Read, number> = { file: taskWorkCpuS('file', sample), memory: taskWorkCpuS('memory', sample) };
  rmSync(sample);
  const pythonWork: Record<Read, number> | undefined = daskSkip ? undefined : JSON.parse(await runDaskDriver({ variant: 'baseline', mb: DATASET_MB, work: WORK_MIB, dir: root }));
  console.log(`one task's own work, alone: Node ${nodeWork.memory.toFixed(3)} s (${nodeWork.file.toFixed(3)} s with the file read), Python ${pythonWork ? `${pythonWork.memory.toFixed(3)} s (${pythonWork.file.toFixed(3)} s)` : '-'}`);
  const workCpuS = (setup: Setup) => {
    const perTask = setup.system === 'dask' ? pythonWork?.[setup.read] : nodeWork[setup.read];
    return perTask === undefined ? undefined : perTask * TASKS;
  };

  const runs: RunResult[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const rotation = SETUPS.map((_, i) => SETUPS[(i + rep) % SETUPS.length]);
    for (const setup of rotation) {
      const run = await runOnce(setup, rep, { order, holderOf });
      runs.push(run);
      logRun(run);
    }
  }
  const summary = summarize(runs, workCpuS, SETUPS);
  const rows: Row[] = summary.map((s) => ({
    setup: s.setup.name,
    'MB moved (median, range)': `${Math.round(s.bytesMoved / MB)} (${Math.round(s.movedRange[0] / MB)}–${Math.round(s.movedRange[1] / MB)})`,
    'tasks where their data was': `${Math.round(s.localShare * 100)}%`,
    'makespan s': +s.makespanS.toFixed(2),
    'makespan range s': `${s.makespanRange[0].toFixed(2)}–${s.makespanRange[1].toFixed(2)}`,
    'cluster CPU s': +s.cpuS.toFixed(1),
    'CPU beyond the tasks\' work': s.overhead === undefined ? '-' : `${Math.round(s.overhead * 100)}%`,
    'rest of machine (cores)': s.otherCores === undefined ? '-' : +s.otherCores.toFixed(2),
  }));

  // The skewed workload: every dataset on node1; tasks that wait instead of computing.
  const skewRuns: RunResult[] = [];
  const skewSetups = SETUPS.filter((s) => s.name === 'locality-memory' || s.name === 'dask-memory');
  let skewRows: Row[] = [];
  if (env.KS_BENCH_LOCALITY_SKEW !== '0' && skewSetups.length > 0) {
    const skewHolders = await saveDatasets('skewed', SKEW_DATASETS, () => 0);
    const skewUrls = [...skewHolders.keys()];
    const skewOrder = shuffled(Array.from({ length: SKEW_TASKS }, (_, i) => skewUrls[i % skewUrls.length]), 20_261_202);
    console.log(`skewed: ${SKEW_DATASETS} datasets of ${DATASET_MB} MB, all on node1; ${SKEW_TASKS} tasks that wait ${SKEW_WAITS_MS.join(' or ')} ms`);
    for (let rep = 0; rep < REPS; rep++) {
      for (const waitMs of SKEW_WAITS_MS) {
        const rotation = skewSetups.map((_, i) => skewSetups[(i + rep) % skewSetups.length]);
        for (const setup of rotation) {
          const run = await runOnce(setup, rep, { order: skewOrder, holderOf: skewHolders, waitMs });
          run.setup = `${setup.system} wait ${waitMs} ms`;
          skewRuns.push(run);
          logRun(run);
        }
      }
    }
    const skewNames = SKEW_WAITS_MS.flatMap((w) => skewSetups.map((s) => ({ ...s, name: `${s.system} wait ${w} ms` })));
    skewRows = summarize(skewRuns, () => undefined, skewNames).map((s) => ({
      setup: s.setup.name,
      'MB moved (median, range)': `${Math.round(s.bytesMoved / MB)} (${Math.round(s.movedRange[0] / MB)}–${Math.round(s.movedRange[1] / MB)})`,
      'tasks on node1': `${Math.round(s.localShare * 100)}%`,
      'makespan s': +s.makespanS.toFixed(2),
      'makespan range s': `${s.makespanRange[0].toFixed(2)}–${s.makespanRange[1].toFixed(2)}`,
      'cluster CPU s': +s.cpuS.toFixed(1),
    }));
    console.table(skewRows);
  }

  const config = {
    nodes: NODES.length,
    workersPerNode: WORKERS,
    datasets: DATASETS,
    datasetMB: DATASET_MB,
    tasks: TASKS,
    workMiBHashedPerTask: WORK_MIB,
    taskWorkCpuS: { node: nodeWork, python: pythonWork },
    repetitions: REPS,
    setups: Object.fromEntries(SETUPS.map((s) => [s.name, s.description])),
    skewed: { datasets: SKEW_DATASETS, tasks: SKEW_TASKS, waitsMs: SKEW_WAITS_MS },
    statistic: 'median over repetitions',
    loadAverage: loadavg(),
  };
  report('locality', rows, { config, skewedRows: skewRows, runs, skewRuns, totalSeconds: Math.round((performance.now() - started) / 1000) });
  writeChart(summarize(runs, workCpuS, SETUPS));
}

function writeChart(summary: { setup: Setup; makespanS: number; bytesMoved: number; cpuS: number }[]): void {
  const series = summary.map((s) => ({ name: s.setup.name, color: s.setup.color }));
  const group = (label: string, values: number[], format: (v: number) => string) => {
    const max = Math.max(...values, Number.EPSILON);
    return { label, bars: values.map((v) => ({ value: v / max, label: format(v) })) };
  };
  const svg = svgBarChart({
    title: `Locality: ${TASKS} tasks over ${DATASETS} datasets of ${DATASET_MB} MB on 3 nodes`,
    subtitle: `3 nodes × ${WORKERS} worker threads on ${cpus().length} shared cores; median of ${REPS} runs each; ${new Date().toISOString().slice(0, 10)}`,
    axisLabel: 'bar length: relative to the largest value in its group\nlocality = the default scheduler; random and round-robin ignore the data; dask = Dask distributed, same data placement',
    series,
    groups: [
      group('makespan (s), lower is better', summary.map((s) => s.makespanS), (v) => `${v.toFixed(2)} s`),
      group('bytes moved between nodes (MB), lower is better', summary.map((s) => s.bytesMoved / MB), (v) => `${v.toFixed(0)} MB`),
      group('CPU time of the cluster (s), lower is better', summary.map((s) => s.cpuS), (v) => `${v.toFixed(1)} s`),
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
