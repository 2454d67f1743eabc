import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/loopback-ports.js';

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;

/** A process this benchmark started, stopped by its pid. */
interface Owned {
  name: string;
  child: ChildProcess;
}

async function stopChild(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}


/** One redis-server and one nats-server on loopback, shared by the nodes of a benchmark. */
export interface SharedServices {
  redisUrl: string;
  natsUrl: string;
  /** nats-server's monitoring endpoint (`/varz`), when asked for */
  natsMonitorUrl?: string;
  /** redis-server's port, for INFO */
  redisPort: number;
  pids: number[];
  stop(): Promise<void>;
}

export async function startSharedServices(options: { natsMonitor?: boolean } = {}): Promise<SharedServices> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-services-'));
  const [redisPort, natsPort] = [await freePort(), await freePort()];
  const monitorPort = options.natsMonitor ? await freePort() : undefined;
  const owned: Owned[] = [
    { name: 'redis-server', child: spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }) },
    { name: 'nats-server', child: spawn(existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), ...(monitorPort ? ['-m', String(monitorPort)] : [])], { stdio: 'ignore' }) },
  ];
  const stop = async () => {
    await Promise.all(owned.map((o) => stopChild(o.child, 5000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all([waitForPort(redisPort), waitForPort(natsPort)]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    natsMonitorUrl: monitorPort ? `http://127.0.0.1:${monitorPort}` : undefined,
    redisPort,
    pids: owned.map((o) => o.child.pid!),
    stop,
  };
}

export interface ClusterNode {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `ks start` on shared services with a given name and datadir (kept when it stops, so
 * a restarted node finds its data again).
 */
export async function startClusterNode(options: { name: string; datadir: string; services: SharedServices; flags?: string[] }): Promise<ClusterNode> {
  const port = await freePort();
  const args = [
    KS_BIN, 'start', '--datadir', options.datadir, '--node-port', String(port), '--node-name', options.name,
    '--redis-url', options.services.redisUrl, '--nats-url', options.services.natsUrl, ...(options.flags ?? []),
  ];
  // KS_BENCH_NODE_ARGV: extra Node.js options for the nodes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeArgv = process.env.KS_BENCH_NODE_ARGV?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgv, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn' } });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ks start ${options.name} did not come up: ${output}`)), 30_000);
    child.stdout!.on('data', () => {
      const match = /listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ks start ${options.name} exited with ${code}: ${output}`));
    });
  }).catch(async (error: unknown) => {
    await stopChild(child);
    throw error;
  });
  return { name: options.name, url, pid: child.pid!, stop: () => stopChild(child) };
}
