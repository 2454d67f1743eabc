import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/loopback-ports.js';
import { startRedisServer, type RedisServerProcess } from '../lib/redis-server.js';
import { startNatsServer, type NatsServerProcess } from './nats-server.js';
import { ownDir, ownProcess } from './owned-processes.js';

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;

/** A `ks start` child process the chaos script can signal (SIGKILL, SIGSTOP, SIGTERM). */
export interface ChaosNode {
  name: string;
  url: string;
  child: ChildProcess;
  /** resolves when the process has exited (with its code, or null after a signal) */
  exited: Promise<number | null>;
  /** the last lines it printed (stdout and stderr), for the report when something goes wrong */
  output(): string;
  /** SIGCONT + SIGTERM, SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
}

export interface ChaosCluster {
  redis: RedisServerProcess;
  nats: NatsServerProcess;
  nodes: ChaosNode[];
  /** the shared temp dir: node datadirs and the side-effect ledger */
  dir: string;
  stop(): Promise<void>;
}

export interface ChaosClusterOptions {
  nodes?: number;
  workersPerNode?: number;
  /** extra redis-server arguments (scenario 3's maxmemory) */
  redisArgs?: string[];
  /** extra `ks start` flags for every node (e.g. `--drain-timeout`) */
  nodeFlags?: string[];
}

/**
 * Three nodes (by default) on loopback, sharing an external redis-server (AOF with
 * `appendfsync always`, DEBUG allowed) and a nats-server, all in one temp dir.
 */
export async function startChaosCluster(options: ChaosClusterOptions = {}): Promise<ChaosCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-chaos-'));
  const disownDir = ownDir(dir);
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    disownDir();
  };
  try {
    const redis = await startRedisServer({ durable: true, debug: true, args: options.redisArgs });
    const disownRedis = ownProcess('redis-server', () => redis.child.pid);
    const disownRedisDir = ownDir(redis.dir);
    started.push({ stop: async () => { await redis.stop(); disownRedis(); disownRedisDir(); } });
    const nats = await startNatsServer();
    started.push(nats);
    const nodes: ChaosNode[] = [];
    // one after another: the first is the head the clients talk to, and starts are CPU-heavy
    for (let i = 1; i <= (options.nodes ?? 3); i++) {
      const node = await startChaosNode({
        name: `node${i}`, dir, redisUrl: redis.url, natsUrl: nats.url,
        flags: ['--num-workers', String(options.workersPerNode ?? 2), ...(options.nodeFlags ?? [])],
      });
      nodes.push(node);
      started.push({ stop: () => node.stop() });
    }
    return { redis, nats, nodes, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startChaosNode(o: { name: string; dir: string; redisUrl: string; natsUrl: string; flags: string[] }): Promise<ChaosNode> {
  const datadir = join(o.dir, o.name);
  mkdirSync(datadir);
  const port = await freePort();
  const args = [KS_BIN, 'start', '--datadir', datadir, '--node-port', String(port), '--node-name', o.name,
    '--redis-url', o.redisUrl, '--nats-url', o.natsUrl, ...o.flags];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn' } });
  const disown = ownProcess(`ks ${o.name}`, () => child.pid);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    disown();
    resolve(code);
  }));
  const stop = async (graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ks start ${o.name} did not come up in 30 s: ${output}`)), 30_000);
    child.stdout!.on('data', () => {
      const match = /listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ks start ${o.name} exited with ${code}: ${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop(0);
    throw error;
  });
  return { name: o.name, url, child, exited, output: () => output, stop };
}
