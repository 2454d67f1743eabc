import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/\) Z /.test(safeRead(`/proc/${pid}/stat`));
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A standalone redis-server and nats-server shared by the nodes of one test file. */
export interface Services {
  redisUrl: string;
  natsUrl: string;
  stop(): Promise<void>;
}

export async function startServices(): Promise<Services> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-services-'));
  const [redisPort, natsPort] = [await freePort(), await freePort()];
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const nats = spawn(existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], { stdio: 'ignore' });
  await waitForPort(redisPort);
  await waitForPort(natsPort);
  return {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    async stop() {
      redis.kill('SIGTERM');
      nats.kill('SIGTERM');
      await Promise.all([waitExit(redis, 5000), waitExit(nats, 5000)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on port ${port}`);
}

export interface KsNode {
  name: string;
  url: string;
  pid: number;
  datadir: string;
  output(): string;
  /** SIGTERM (or the given signal), then wait for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `ks start` as a child process; with `services`, on shared Redis and NATS. */
export async function startNode(options: { name?: string; services?: Services; workers?: number; flags?: string[] } = {}): Promise<KsNode> {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-node-'));
  const port = await freePort();
  const name = options.name ?? `node-${port}`;
  const args = [KS_BIN, 'start', '--datadir', datadir, '--node-port', String(port), '--node-name', name, '--num-workers', String(options.workers ?? 1)];
  if (options.services) args.push('--redis-url', options.services.redisUrl, '--nats-url', options.services.natsUrl);
  args.push(...(options.flags ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn' } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ks start did not come up:\n${out}`)), 20_000);
    const check = () => {
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ks start exited with ${code}:\n${out}`));
    });
  });
  return {
    name,
    url,
    pid: child.pid!,
    datadir,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await waitExit(child, 15_000);
      rmSync(datadir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
