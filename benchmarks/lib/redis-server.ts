import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/loopback-ports.js';
import { signalAndWait } from './child-exit.js';

export interface RedisServerOptions {
  /** extra redis-server arguments, e.g. ['--maxmemory', '20mb', '--maxmemory-policy', 'noeviction'] */
  args?: string[];
  /** AOF with `appendfsync always`, so a kill -9 loses no acknowledged write */
  durable?: boolean;
  /** allow DEBUG (SLEEP, ...) from loopback clients */
  debug?: boolean;
}

/**
 * A private redis-server on a free loopback port and a temp dir, which tests and the chaos
 * script can hurt for real: kill -9 and restart on the same port and dir, SIGSTOP/SIGCONT.
 */
export interface RedisServerProcess {
  port: number;
  url: string;
  dir: string;
  /** the current process's pid (changes on restart) */
  readonly pid: number;
  readonly child: ChildProcess;
  /** SIGKILL, and wait until the process is gone */
  kill9(): Promise<void>;
  /** start again on the same port and dir (after kill9 or stop), wait until it answers */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  /** SIGTERM (SIGKILL after 5 s), and remove the dir */
  stop(): Promise<void>;
}

/** Without options: in memory only (no RDB, no AOF). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-redis-'));
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--loglevel', 'warning',
    ...(options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.debug ? ['--enable-debug-command', 'local'] : []),
    ...(options.args ?? []),
  ];
  let child!: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port).catch(() => {
      throw new Error(`redis-server did not come up on port ${port}`);
    });
  };
  const exited = (signal: NodeJS.Signals, graceMs: number) => signalAndWait(child, signal, graceMs);
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child.pid!;
    },
    get child() {
      return child;
    },
    kill9: () => exited('SIGKILL', 0),
    restart: launch,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      child.kill('SIGCONT');
      await exited('SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
