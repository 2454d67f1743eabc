import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { withoutSecrets } from '../../src/credentials.js';
import { freePort } from '../../src/loopback-ports.js';
import type { Logger } from '../../src/log.js';
import { serviceCredentials } from './service-credentials.js';
import { watchParent } from './watchdog.js';

/** A redis-server or nats-server this node started and must stop. */
export interface ChildService {
  name: 'redis-server' | 'nats-server';
  /** where it listens, without credentials: what status, logs and the dashboard show */
  url: string;
  /** the url to connect with: with the generated password */
  connectUrl: string;
  pid: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

/** Last resort: if this process exits without a clean stop, its children go with it. */
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

export class MissingBinaryError extends Error {
  constructor(binary: ChildService['name'], pkg: string) {
    const override = process.env[BINARY_ENV[binary]];
    const where = override ? ` at ${override} (${BINARY_ENV[binary]})` : '';
    const flag = binary === 'redis-server' ? '--redis-url' : '--nats-url';
    super(`${binary} not found${where}: install it with \`apt-get install ${pkg}\` (or use a running server with ${flag} URL)`);
    this.name = 'MissingBinaryError';
  }
}

class NotReadyError extends Error {}

/**
 * `maxmemory`: bytes; Redis refuses writes beyond it (`noeviction`: never drops a key, since
 * jobs, queues and the catalog live there) and the node's memory guard refuses new work
 * before that.
 */
export async function startRedis(datadir: string, log: Logger, maxmemory: number): Promise<ChildService> {
  const dir = join(datadir, '.ks', 'redis');
  mkdirSync(dir, { recursive: true });
  const { redisPassword } = serviceCredentials(datadir);
  // Everything, the password first, in a file only this user reads: never on a command line.
  const configFile = join(dir, 'redis.conf');
  return startService('redis-server', 'redis-server', dir, log, (port) => {
    writePrivate(configFile, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${quote(dir)}`,
      'appendonly yes', 'appendfsync everysec', 'save ""',
      'daemonize no', 'protected-mode yes', `logfile ${quote(join(dir, 'redis.log'))}`,
      `maxmemory ${maxmemory}`, 'maxmemory-policy noeviction',
      `requirepass ${redisPassword}`,
    ]);
    return [configFile];
  }, (port) => `redis://127.0.0.1:${port}`, (port) => `redis://:${redisPassword}@127.0.0.1:${port}`, redisAnswers);
}

export async function startNats(datadir: string, log: Logger): Promise<ChildService> {
  const dir = join(datadir, '.ks', 'nats');
  mkdirSync(dir, { recursive: true });
  const { natsUser, natsPassword } = serviceCredentials(datadir);
  const configFile = join(dir, 'nats.conf');
  return startService('nats-server', 'nats-server', dir, log, (port) => {
    writePrivate(configFile, [
      `listen: ${quote(`127.0.0.1:${port}`)}`,
      `log_file: ${quote(join(dir, 'nats.log'))}`,
      `authorization { user: ${quote(natsUser)}, password: ${quote(natsPassword)} }`,
    ]);
    return ['-c', configFile];
  }, (port) => `nats://127.0.0.1:${port}`, (port) => `nats://${natsUser}:${natsPassword}@127.0.0.1:${port}`, natsAnswers);
}

/** A config file readable by this user only (mode 0600, also when it existed with another mode). */
function writePrivate(path: string, lines: string[]): void {
  rmSync(path, { force: true });
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/** A string in double quotes, as redis.conf and nats.conf both read it. */
function quote(value: string): string {
  return JSON.stringify(value);
}

async function startService(
  binary: ChildService['name'],
  pkg: string,
  dir: string,
  log: Logger,
  argsFor: (port: number) => string[],
  urlFor: (port: number) => string,
  connectUrlFor: (port: number) => string,
  answers: (port: number) => Promise<boolean>,
): Promise<ChildService> {
  killStale(dir, binary, log);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // Own process group: a Ctrl-C in the terminal reaches the node, which stops its children in order.
    const executable = locate(binary);
    const child = spawn(executable, argsFor(port), { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: withoutSecrets(process.env) });
    // Known from the first moment: a signal or an exit during start-up must stop it too.
    let unwatch = () => undefined as void;
    if (child.pid !== undefined) {
      livePids.add(child.pid);
      writeFileSync(join(dir, 'pid'), String(child.pid));
      // Also when this process dies without a word (SIGKILL, a task's process.kill).
      unwatch = watchParent(child.pid, basename(executable).slice(0, 15));
      child.once('exit', () => unwatch());
    }
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const exited = new Promise<Error>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        resolve(error.code === 'ENOENT' ? new MissingBinaryError(binary, pkg) : error);
      });
      child.once('exit', (code, signal) => resolve(new Error(`${binary} exited during start-up (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}; see ${dir}`)));
    });
    const ready = waitUntil(() => answers(port), READY_TIMEOUT_MS).then(
      () => null,
      () => new NotReadyError(`${binary} did not answer on port ${port} within ${READY_TIMEOUT_MS / 1000} s; see ${dir}`),
    );
    const outcome = await Promise.race([ready, exited]);
    if (outcome === null) {
      log.info({ service: binary, pid: child.pid, port }, `${binary} started`);
      return { name: binary, url: urlFor(port), connectUrl: connectUrlFor(port), pid: child.pid!, stop: () => stopChild(child, dir).finally(unwatch) };
    }
    await stopChild(child, dir).finally(unwatch);
    // Only an early exit (another process took the port first) is worth another try.
    if (outcome instanceof MissingBinaryError || outcome instanceof NotReadyError) throw outcome;
    lastError = outcome;
  }
  throw lastError ?? new Error(`${binary} did not start`);
}

/** Environment variables that name a binary's path, overriding the search. */
const BINARY_ENV: Record<ChildService['name'], string> = { 'redis-server': 'KS_REDIS_SERVER', 'nats-server': 'KS_NATS_SERVER' };

/**
 * KS_REDIS_SERVER / KS_NATS_SERVER when set; else PATH first, then the usual system
 * directories (Debian puts nats-server in /usr/sbin, which a non-root PATH may lack).
 */
function locate(binary: ChildService['name']): string {
  const override = process.env[BINARY_ENV[binary]];
  if (override) return override;
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return join(dir, binary);
    } catch {
      // keep looking
    }
  }
  return binary;
}

/** A node killed with SIGKILL leaves its children behind; the next start in the same datadir ends them. */
function killStale(dir: string, binary: string, log: Logger): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    return;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes(binary)) {
      process.kill(pid, 'SIGTERM');
      log.warn({ pid }, `stopped a ${binary} left behind by an earlier node in this datadir`);
    }
  } catch {
    // not running any more
  }
  rmSync(join(dir, 'pid'), { force: true });
}

async function stopChild(child: ChildProcess, dir: string): Promise<void> {
  rmSync(join(dir, 'pid'), { force: true });
  if (child.pid !== undefined) livePids.delete(child.pid);
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}


async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not ready after ${timeoutMs} ms`);
}

/** Sends `request` (if any) and resolves true when the first bytes of the answer start with one of `expect`. */
function probe(port: number, request: string | null, ...expect: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let answer = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => {
      if (request) socket.write(request);
    });
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (expect.some((e) => answer.startsWith(e))) finish(true);
      else if (answer.length >= Math.max(...expect.map((e) => e.length))) finish(false);
    });
  });
}

/** Up when it answers at all: a PING without the password gets `-NOAUTH`. */
const redisAnswers = (port: number) => probe(port, 'PING\r\n', '+PONG', '-NOAUTH');
const natsAnswers = (port: number) => probe(port, null, 'INFO ');
