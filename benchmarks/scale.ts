/**
 * Many nodes on one machine (`npm run bench:scale`): 1, 2, 4, 8 and 16 nodes with one worker
 * thread each, on one redis-server and one nats-server that this benchmark starts on loopback.
 *
 * For each node count (the counts alternate between repetitions, the order rotating):
 * - the bulk: 20,000 no-op calls through node1 (`bc` × 20,000, `execute()`, `br()`);
 * - a locality workload: two 4 MB datasets per node, 8 tasks per dataset hashing it
 *   (`obj()`, then sha256 over it 4 times), submitted through node1.
 * Measured per run: tasks/s; CPU seconds of every process of the cluster (nodes with their
 * threads, redis-server, nats-server) and of this client, per task; NATS messages per job
 * (nats-server's /varz in_msgs + out_msgs); Redis commands per job and the time Redis spent
 * in the claim script per call (SLOWLOG with a 0 µs threshold: every command, with its
 * duration), which shows whether claims get slower as host queues multiply; for the locality
 * workload, the share of tasks that ran where their data was and the bytes moved.
 * Between runs the idle cluster's CPU per second is measured too (no busy polling: an idle
 * node should cost next to nothing).
 *
 * KS_BENCH_SCALE_NODES ("1,2,4,8,16"), KS_BENCH_SCALE_REPS (2), KS_BENCH_SCALE_CALLS (20000).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client, dr, du, type RemoteData } from '../index.js';
import { startClusterNode, startSharedServices, type ClusterNode, type SharedServices } from './lib/local-cluster.js';
import { cpuSeconds, ownCpuSeconds } from './lib/proc-cpu.js';
import { report, type Row } from './lib/report.js';

const env = process.env;
const NODE_COUNTS = (env.KS_BENCH_SCALE_NODES ?? '1,2,4,8,16').split(',').map(Number);
const REPS = Number(env.KS_BENCH_SCALE_REPS ?? 2);
const CALLS = Number(env.KS_BENCH_SCALE_CALLS ?? 20_000);
const DATASETS_PER_NODE = 2;
const DATASET_BYTES = 4 << 20;
const TASKS_PER_DATASET = 8;
const IDLE_WINDOW_MS = 3000;
const LUA_DIR = new URL('../../src/store/lua/', import.meta.url).pathname;

const noop = (x: number) => x;
const hashTask = async (data: RemoteData<Buffer>) => {
  const { createHash } = await import('node:crypto');
  const { taskContext } = await import('kitchensink');
  const bytes = await data.obj();
  let digest = Buffer.alloc(0);
  for (let i = 0; i < 4; i++) digest = createHash('sha256').update(digest).update(bytes).digest();
  return taskContext().node.name;
};

/** sha1 -> script name, computed like the Store loads them (includes expanded). */
function scriptNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const file of readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'))) {
    const source = readFileSync(join(LUA_DIR, file), 'utf8').replace(/^-- @include (\w+)$/gm, (_l, part: string) => readFileSync(join(LUA_DIR, 'includes', `${part}.lua`), 'utf8'));
    names.set(createHash('sha1').update(source).digest('hex'), file.replace(/\.lua$/, ''));
  }
  return names;
}

interface RedisCounts {
  commands: number;
  /** per script name: calls and total µs */
  scripts: Map<string, { calls: number; us: number }>;
}

async function natsMessages(services: SharedServices): Promise<number> {
  const varz = (await (await fetch(`${services.natsMonitorUrl}/varz`)).json()) as { in_msgs: number; out_msgs: number };
  return varz.in_msgs + varz.out_msgs;
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
}

/** Every command since the last reset, from SLOWLOG (threshold 0), grouped by script. */
async function readSlowlog(redis: Redis, names: Map<string, string>): Promise<Map<string, { calls: number; us: number }>> {
  const entries = (await redis.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[]][];
  const scripts = new Map<string, { calls: number; us: number }>();
  for (const [, , us, args] of entries) {
    if (String(args[0]).toLowerCase() !== 'evalsha') continue;
    const name = names.get(String(args[1])) ?? String(args[1]).slice(0, 8);
    const entry = scripts.get(name) ?? { calls: 0, us: 0 };
    entry.calls++;
    entry.us += us;
    scripts.set(name, entry);
  }
  return scripts;
}

interface Measured {
  seconds: number;
  tasks: number;
  cpuS: number;
  natsMsgs: number;
  redisCommands: number;
  scripts: Map<string, { calls: number; us: number }>;
}

async function measure(services: SharedServices, nodes: ClusterNode[], redis: Redis, names: Map<string, string>, work: () => Promise<number>): Promise<Measured> {
  const pids = [...nodes.map((n) => n.pid), ...services.pids];
  const cpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) + ownCpuSeconds();
  await redis.call('SLOWLOG', 'RESET');
  const [cpu0, nats0, cmd0] = [cpu(), await natsMessages(services), await commandsProcessed(redis)];
  const t0 = performance.now();
  const tasks = await work();
  const seconds = (performance.now() - t0) / 1000;
  const [cpu1, nats1, cmd1] = [cpu(), await natsMessages(services), await commandsProcessed(redis)];
  return { seconds, tasks, cpuS: cpu1 - cpu0, natsMsgs: nats1 - nats0, redisCommands: cmd1 - cmd0 - 3, scripts: await readSlowlog(redis, names) };
}

interface RunRow {
  nodes: number;
  rep: number;
  workload: 'bulk' | 'locality';
  tasksPerS: number;
  cpuUsPerTask: number;
  natsMsgsPerJob: number;
  redisCommandsPerJob: number;
  claimUsPerCall: number;
  claimCallsPerJob: number;
  localShare?: number;
  mbMoved?: number;
  idleCpuPerNodePerS?: number;
}

async function runCount(services: SharedServices, redis: Redis, names: Map<string, string>, count: number, rep: number, root: string): Promise<RunRow[]> {
  const dir = mkdtempSync(join(root, `n${count}-`));
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => startClusterNode({
    name: `node${i + 1}`, datadir: join(dir, `node${i + 1}`), services, flags: ['--num-workers', '1'],
  })));
  const c = new Client(nodes[0].url, { output: 'silent', progress: false });
  try {
    // The idle cluster: what it costs per node per second when nothing runs.
    await new Promise((r) => setTimeout(r, 1000));
    const pids = nodes.map((n) => n.pid);
    const idle0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const idleCpuPerNodePerS = (pids.reduce((s, p) => s + cpuSeconds(p), 0) - idle0) / count / (IDLE_WINDOW_MS / 1000);

    // warm every node's threads up (module loading is not what this measures)
    for (let i = 0; i < 50 * count; i++) c.bc(noop, i);
    await c.execute();
    await c.br();

    const bulk = await measure(services, nodes, redis, names, async () => {
      for (let i = 0; i < CALLS; i++) c.bc(noop, i);
      await c.execute();
      const results = (await c.br()) as number[];
      if (results.length !== CALLS || results[CALLS - 1] !== CALLS - 1) throw new Error('wrong bulk results');
      return CALLS;
    });

    const holderOf = new Map<string, string>();
    for (const node of nodes) {
      for (let k = 0; k < DATASETS_PER_NODE; k++) {
        const d = dr(randomBytes(DATASET_BYTES));
        d.rpcUrl = node.url;
        await d.save({ url: `scale/${count}/${rep}/${node.name}-${k}` });
        holderOf.set(d.dataUrl, node.name);
      }
    }
    const urls = [...holderOf.keys()];
    const order = Array.from({ length: urls.length * TASKS_PER_DATASET }, (_, i) => urls[(i * 7) % urls.length]);
    const received = async () => (await Promise.all(nodes.map(async (n) => {
      const nc = new Client(n.url, { output: 'silent' });
      try {
        return (await nc.nodeStatus()).data.received.bytes;
      } finally {
        await nc.close();
      }
    }))).reduce((a, b) => a + b, 0);
    const moved0 = await received();
    let local = 0;
    const loc = await measure(services, nodes, redis, names, async () => {
      for (const url of order) c.bc(hashTask, du(url));
      await c.execute();
      const ran = (await c.br()) as string[];
      local = ran.filter((node, i) => node === holderOf.get(order[i])).length;
      return order.length;
    });
    const mbMoved = ((await received()) - moved0) / 1e6;

    const row = (workload: 'bulk' | 'locality', m: Measured, extra: Partial<RunRow>): RunRow => {
      const claim = m.scripts.get('claimJobs') ?? { calls: 0, us: 0 };
      return {
        nodes: count,
        rep,
        workload,
        tasksPerS: m.tasks / m.seconds,
        cpuUsPerTask: (m.cpuS / m.tasks) * 1e6,
        natsMsgsPerJob: m.natsMsgs / m.tasks,
        redisCommandsPerJob: m.redisCommands / m.tasks,
        claimUsPerCall: claim.calls ? claim.us / claim.calls : 0,
        claimCallsPerJob: claim.calls / m.tasks,
        ...extra,
      };
    };
    return [
      row('bulk', bulk, { idleCpuPerNodePerS }),
      row('locality', loc, { localShare: local / order.length, mbMoved }),
    ];
  } finally {
    await c.close();
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main(): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'ks-bench-scale-'));
  const services = await startSharedServices({ natsMonitor: true });
  const redis = new Redis(services.redisPort, '127.0.0.1');
  try {
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.config('SET', 'slowlog-max-len', '1000000');
    const names = scriptNames();
    const runs: RunRow[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const rotation = NODE_COUNTS.map((_, i) => NODE_COUNTS[(i + rep) % NODE_COUNTS.length]);
      for (const count of rotation) {
        const rows = await runCount(services, redis, names, count, rep, root);
        for (const r of rows) {
          runs.push(r);
          console.log(`rep ${rep + 1} ${String(count).padStart(2)} nodes ${r.workload.padEnd(8)} ${r.tasksPerS.toFixed(0)} tasks/s, ${r.cpuUsPerTask.toFixed(0)} µs CPU/task, ${r.natsMsgsPerJob.toFixed(2)} NATS msgs/job, ${r.redisCommandsPerJob.toFixed(2)} Redis cmds/job, claim ${r.claimUsPerCall.toFixed(0)} µs/call (${r.claimCallsPerJob.toFixed(3)} per job)${r.localShare === undefined ? '' : `, ${(r.localShare * 100).toFixed(0)}% local, ${r.mbMoved!.toFixed(0)} MB moved`}${r.idleCpuPerNodePerS === undefined ? '' : `; idle: ${(r.idleCpuPerNodePerS * 1000).toFixed(1)} ms CPU per node per s`} (load ${loadavg()[0].toFixed(1)})`);
        }
      }
    }
    const rows: Row[] = [];
    for (const workload of ['bulk', 'locality'] as const) {
      const base = median(runs.filter((r) => r.workload === workload && r.nodes === NODE_COUNTS[0]).map((r) => r.cpuUsPerTask));
      for (const count of NODE_COUNTS) {
        const mine = runs.filter((r) => r.workload === workload && r.nodes === count);
        const cpu = median(mine.map((r) => r.cpuUsPerTask));
        rows.push({
          workload,
          nodes: count,
          'tasks/s': Math.round(median(mine.map((r) => r.tasksPerS))),
          'CPU µs/task (all processes)': Math.round(cpu),
          [`vs ${NODE_COUNTS[0]} node`]: `${(cpu / base).toFixed(2)}×`,
          'NATS msgs/job': +median(mine.map((r) => r.natsMsgsPerJob)).toFixed(2),
          'Redis cmds/job': +median(mine.map((r) => r.redisCommandsPerJob)).toFixed(2),
          'claim µs/call': Math.round(median(mine.map((r) => r.claimUsPerCall))),
          'local': workload === 'locality' ? `${Math.round(median(mine.map((r) => r.localShare!)) * 100)}%` : '-',
          'idle ms CPU/node/s': workload === 'bulk' ? +(median(mine.map((r) => r.idleCpuPerNodePerS!)) * 1000).toFixed(1) : '-',
        });
      }
    }
    report('scale', rows, {
      config: { nodeCounts: NODE_COUNTS, threadsPerNode: 1, repetitions: REPS, calls: CALLS, locality: { datasetsPerNode: DATASETS_PER_NODE, datasetBytes: DATASET_BYTES, tasksPerDataset: TASKS_PER_DATASET }, statistic: 'median over repetitions', loadAverage: loadavg() },
      runs,
      totalSeconds: Math.round((performance.now() - started) / 1000),
    });
  } finally {
    redis.disconnect();
    await services.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
