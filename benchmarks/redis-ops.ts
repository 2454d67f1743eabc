/**
 * Redis commands per job (docs/scaling.md): one node (`--num-workers 2`, embedded NATS) on a
 * Redis of its own, a bulk of no-op jobs (`bc` × n, `execute`, `br`), and the deltas of
 * `INFO commandstats` over it (summed over the masters on Redis Cluster). Also the bulk's
 * wall time, as a rough figure (run it under `flock /work/bench.lock`).
 *
 *   node dist/benchmarks/redis-ops.js [jobs=20000] [single|cluster] [rounds=1]
 */
import { Redis } from 'ioredis';
import { Client } from '../index.js';
import { startKsNode } from './lib/ks-node.js';
import { startRedisServer } from './lib/redis-server.js';
import { startRedisCluster } from './lib/redis-topologies.js';

/** command -> [calls, µs of Redis CPU] */
type Stats = Map<string, [number, number]>;

/** Seconds of CPU the Redis servers used (user + sys). */
async function redisCpu(ports: number[]): Promise<number> {
  let seconds = 0;
  for (const port of ports) {
    const redis = new Redis({ port, host: '127.0.0.1' });
    try {
      const info = await redis.info('cpu');
      seconds += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
    } finally {
      redis.disconnect();
    }
  }
  return seconds;
}

/** Calls and µs per command, from INFO commandstats (commands a script runs count too). */
async function commandStats(ports: number[]): Promise<Stats> {
  const stats: Stats = new Map();
  for (const port of ports) {
    const redis = new Redis({ port, host: '127.0.0.1' });
    try {
      for (const line of (await redis.info('commandstats')).split('\n')) {
        const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
        if (!match) continue;
        const [calls, usec] = stats.get(match[1]) ?? [0, 0];
        stats.set(match[1], [calls + Number(match[2]), usec + Number(match[3])]);
      }
    } finally {
      redis.disconnect();
    }
  }
  return stats;
}

async function main(): Promise<void> {
  const jobs = Number(process.argv[2] ?? 20_000);
  const topology = process.argv[3] ?? 'single';
  const rounds = Number(process.argv[4] ?? 1);
  const cluster = topology === 'cluster' ? await startRedisCluster(3) : undefined;
  const single = cluster ? undefined : await startRedisServer();
  const url = cluster?.url ?? single!.url;
  const ports = cluster ? cluster.masters.map((m) => m.port) : [single!.port];
  const node = await startKsNode(['--redis-url', url, '--num-workers', '2']);
  const c = new Client(node.url, { output: 'silent' });
  try {
    for (let i = 0; i < 200; i++) c.bc(() => null);
    await c.br(); // warm-up: scripts loaded, threads started
    for (let round = 0; round < rounds; round++) {
      const before = await commandStats(ports);
      const cpuBefore = await redisCpu(ports);
      const started = performance.now();
      for (let i = 0; i < jobs; i++) c.bc(() => null);
      await c.br();
      const ms = performance.now() - started;
      await new Promise((r) => setTimeout(r, 300)); // the deferred deletes of delivered jobs
      const after = await commandStats(ports);
      const cpu = (await redisCpu(ports)) - cpuBefore;
      const deltas = [...after].map(([name, [calls, usec]]) => [name, calls - (before.get(name)?.[0] ?? 0), usec - (before.get(name)?.[1] ?? 0)] as const)
        .filter(([name, delta]) => delta > 0 && !['info', 'cluster|info', 'cluster|nodes', 'cluster|slots'].includes(name))
        .sort((a, b) => b[1] - a[1]);
      const total = deltas.reduce((sum, [, delta]) => sum + delta, 0);
      const scripts = deltas.filter(([name]) => /^eval/.test(name)).reduce((sum, [, delta]) => sum + delta, 0);
      console.log(JSON.stringify({
        topology, jobs, ms: Math.round(ms), jobsPerSecond: Math.round(jobs / (ms / 1000)),
        commandsPerJob: Number((total / jobs).toFixed(3)), scriptCallsPerJob: Number((scripts / jobs).toFixed(4)),
        redisCpuUsPerJob: Number(((cpu * 1e6) / jobs).toFixed(2)),
        perCommand: Object.fromEntries(deltas.map(([name, delta, spent]) => [name, { calls: delta, perJob: Number((delta / jobs).toFixed(4)), usPerJob: Number((spent / jobs).toFixed(2)) }])),
      }));
    }
  } finally {
    await c.close();
    await node.stop();
    await cluster?.stop();
    await single?.stop();
  }
}

await main();
