import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/loopback-ports.js';
import { embeddedRedisUrl as redisUrlOf } from '../../benchmarks/lib/embedded-redis.js';

export { freePort };

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;


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

/**
 * A process this test file starts is sent SIGTERM if the file's process dies without its
 * after-hooks (ava kills it on a timeout): a small watchdog shell polls both pids once a
 * second, so a node still stops its own redis-server and nats-server. The watchdog ends as
 * soon as either process is gone.
 */
function track(child: ChildProcess): ChildProcess {
  if (child.pid === undefined) return child;
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -TERM ${child.pid} 2>/dev/null`;
  spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
  return child;
}

/** Waits for `child` to exit; after `ms` kills it (and says so on stderr, with `describe()`, for the test log). */
async function waitExit(child: ChildProcess, ms: number, describe?: () => string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      if (describe) console.error(`process ${child.pid} did not exit within ${ms} ms; killing it. ${describe()}`);
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
  natsPid: number;
  stop(): Promise<void>;
}

export async function startServices(): Promise<Services> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-services-'));
  const [redisPort, natsPort] = [await freePort(), await freePort()];
  const redis = track(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }));
  const nats = track(spawn(existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], { stdio: 'ignore' }));
  await waitForPort(redisPort);
  await waitForPort(natsPort);
  return {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    natsPid: nats.pid!,
    async stop() {
      redis.kill('SIGTERM');
      nats.kill('SIGTERM');
      await Promise.all([waitExit(redis, 5000), waitExit(nats, 5000)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

export interface StartNodeOptions {
  name?: string;
  services?: Services;
  workers?: number;
  flags?: string[];
  /** extra environment variables for the node process */
  env?: Record<string, string>;
  /** use this datadir and keep it when the node stops (default: a temp dir, removed) */
  datadir?: string;
  /** a command the node runs under, which execs it (e.g. `ip netns exec NS`): the pid stays the node's */
  wrap?: string[];
}

/**
 * Starts `ks start` as a child process; with `services`, on shared Redis and NATS. A free port
 * can be taken between choosing it and binding it (a parallel test file, or a Redis Cluster
 * bus port, which is its node's port + 10000): then it starts again on another port.
 */
export async function startNode(options: StartNodeOptions = {}): Promise<KsNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodeOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/is already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startNodeOnce(options: StartNodeOptions): Promise<KsNode> {
  const datadir = options.datadir ?? mkdtempSync(join(tmpdir(), 'ks-node-'));
  const port = await freePort();
  const name = options.name ?? `node-${port}`;
  const args = [KS_BIN, 'start', '--datadir', datadir, '--node-port', String(port), '--node-name', name, '--num-workers', String(options.workers ?? 1)];
  if (options.services) args.push('--redis-url', options.services.redisUrl, '--nats-url', options.services.natsUrl);
  args.push(...(options.flags ?? []));
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const child = track(spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn', ...options.env } }));
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
      // A node drains its running jobs for up to 30 s: a second signal stops it now, so it
      // still stops its own redis-server and nats-server (SIGKILL below would leave them).
      const again = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill(signal), 5_000);
      child.once('exit', () => clearTimeout(again));
      await waitExit(child, 15_000, () => `ks node ${name} output:\n${out.slice(-4000)}`);
      clearTimeout(again);
      if (!options.datadir) rmSync(datadir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}

/** Nodes on one shared Redis and NATS, for a test file's before/after hooks. */
export interface SharedCluster {
  services: Services;
  nodes: KsNode[];
  stop(): Promise<void>;
}

/** Starts Redis, NATS and one node per options entry (all on those services), in parallel. */
export async function startCluster(nodes: Omit<StartNodeOptions, 'services'>[]): Promise<SharedCluster> {
  const services = await startServices();
  const started = await Promise.allSettled(nodes.map((options) => startNode({ ...options, services })));
  const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(up.map((n) => n.stop()));
    await services.stop();
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { services, nodes: up, stop };
}

export interface KsRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `ks <args>` to its end (killed after `timeoutMs`), for commands expected to exit by themselves. */
export function runKs(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; input?: string | Buffer } = {}): Promise<KsRun> {
  const child = track(spawn(process.execPath, [KS_BIN, ...args], { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn', ...options.env } }));
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Live processes whose command line or working directory mentions `dir`: what a node left
 * running from its datadir (redis-server runs in `<datadir>/.ks/redis`, nats-server logs
 * there). `except`: pids to leave out (the node itself, whose command line names its datadir).
 */
export function processesUsing(dir: string, except: number[] = []): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || except.includes(pid) || !alive(pid)) continue;
    const command = safeRead(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // another user's process, or gone
    }
    if (command.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) found.push({ pid, command });
  }
  return found;
}

/**
 * The url of a node's embedded redis-server with its generated password (read from the
 * node's `DIR/.ks/credentials.json`, as the node's own user can), for tests that look at keys.
 */
export function embeddedRedisUrl(node: Pick<KsNode, 'url' | 'datadir'>, token?: string): Promise<string> {
  return redisUrlOf(node.url, node.datadir, token);
}

/** Starts nodes together; when one fails to start, stops those that did, then throws its error. */
export async function startNodes(list: StartNodeOptions[]): Promise<KsNode[]> {
  const settled = await Promise.allSettled(list.map((options) => startNode(options)));
  const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((node) => node.stop()));
    throw failed.reason;
  }
  return started;
}
