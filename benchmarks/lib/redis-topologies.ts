import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from '../../src/loopback-ports.js';
import { signalAndWait } from './child-exit.js';

/**
 * Redis topologies made on loopback for tests and measurements: a Redis Cluster of masters,
 * and a master with a replica watched by three sentinels. Every process is stopped by its pid.
 */

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** One redis-server (or sentinel) a test started, stopped by its pid. */
export interface RedisProcess {
  port: number;
  readonly child: ChildProcess;
  kill9(): Promise<void>;
  pause(): void;
  resume(): void;
  /** starts it again on its port, with `args` (its first arguments when not given) */
  restart(args?: string[]): Promise<void>;
  stop(): Promise<void>;
}

async function launch(args: string[], port: number): Promise<RedisProcess> {
  let child!: ChildProcess;
  const start = async (using: string[]) => {
    child = spawn('redis-server', using, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port).catch(() => {
      throw new Error(`redis-server ${using.join(' ')} did not come up on port ${port}`);
    });
  };
  await start(args);
  return {
    port,
    get child() {
      return child;
    },
    kill9: () => signalAndWait(child, 'SIGKILL', 0),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    restart: (using = args) => start(using),
    async stop() {
      child.kill('SIGCONT');
      await signalAndWait(child, 'SIGTERM', 5000);
    },
  };
}

function serverArgs(dir: string, port: number, extra: string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...extra];
}

async function withClient<T>(port: number, run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

export interface RedisClusterProcesses {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  url: string;
  masters: RedisProcess[];
  stop(): Promise<void>;
}

/** A Redis Cluster of `size` masters on free loopback ports (`redis-cli --cluster create`), no replicas. */
export async function startRedisCluster(size = 3): Promise<RedisClusterProcesses> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-redis-cluster-'));
  const masters: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(masters.map((m) => m.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      masters.push(await launch(serverArgs(dir, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000']), port));
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const m of masters) {
      await eventually(() => withClient(m.port, async (r) => /cluster_state:ok/.test(String(await r.call('CLUSTER', 'INFO')))), 15_000, `node ${m.port} to see the cluster ok`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis+cluster://${masters.map((m) => `127.0.0.1:${m.port}`).join(',')}`, masters, stop };
}

/** Arguments of a plain redis-server replicating `masterPort` (to restart a dead master as a replica). */
export function replicaArgs(dir: string, port: number, masterPort: number): string[] {
  return serverArgs(dir, port, ['--dbfilename', `again${port}.rdb`, '--replicaof', '127.0.0.1', String(masterPort)]);
}

export interface SentinelProcesses {
  /** `redis+sentinel://127.0.0.1:s1,.../mymaster` */
  url: string;
  sentinelAddresses: string;
  masterName: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  dir: string;
  /** the port of the master the sentinels name now */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * One master, one replica and three sentinels (quorum 2, master down after 1 s), on free
 * loopback ports; resolves once every sentinel knows the replica and the other sentinels, so
 * a failover can happen.
 */
export async function startSentinels(masterName = 'ksmaster'): Promise<SentinelProcesses> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-sentinel-'));
  const all: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(all.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const masterPort = await freePort();
    const master = await launch(serverArgs(dir, masterPort, ['--dbfilename', `m${masterPort}.rdb`]), masterPort);
    all.push(master);
    const replicaPort = await freePort();
    const replica = await launch(serverArgs(dir, replicaPort, ['--dbfilename', `r${replicaPort}.rdb`, '--replicaof', '127.0.0.1', String(masterPort)]), replicaPort);
    all.push(replica);
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const config = join(dir, `sentinel-${port}.conf`);
      writeFileSync(config, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        `sentinel failover-timeout ${masterName} 4000`,
        `sentinel parallel-syncs ${masterName} 1`, '',
      ].join('\n'));
      const sentinel = await launch([config, '--sentinel', '--loglevel', 'warning'], port);
      all.push(sentinel);
      sentinels.push(sentinel);
    }
    await sentinelsReady(sentinels, masterName, replicaPort);
    const sentinelAddresses = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    return {
      url: `redis+sentinel://${sentinelAddresses}/${masterName}`,
      sentinelAddresses,
      dir,
      masterName,
      master,
      replica,
      sentinels,
      currentMasterPort: () => withClient(sentinels[0].port, async (r) => Number(((await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[])[1])),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits until `replicaPort` replicates its master and every sentinel knows it as a healthy
 * replica (not down, recently seen) and knows its two peers: a failover can happen then.
 */
export async function sentinelsReady(sentinels: RedisProcess[], masterName: string, replicaPort: number): Promise<void> {
  await eventually(() => withClient(replicaPort, async (r) => /master_link_status:up/.test(await r.info('replication'))).catch(() => false), 20_000, 'the replica to sync');
  for (const s of sentinels) {
    await eventually(() => withClient(s.port, async (r) => {
      const replicas = (await r.call('SENTINEL', 'REPLICAS', masterName)) as string[][];
      const peers = (await r.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
      const healthy = replicas.some((fields) => {
        const info = Object.fromEntries(fields.flatMap((v, i) => (i % 2 === 0 ? [[v, fields[i + 1]]] : [])));
        return Number(info.port) === replicaPort && !/s_down|o_down|disconnected/.test(info.flags) && info['master-link-status'] === 'ok';
      });
      return healthy && peers.length === 2;
    }).catch(() => false), 40_000, `sentinel ${s.port} to know the replica ${replicaPort} healthy, and its peers`);
  }
}
