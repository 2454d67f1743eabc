import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/loopback-ports.js';
import { embeddedRedisUrl } from './embedded-redis.js';

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;

export interface KsNodeProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  datadir: string;
  /** its embedded redis-server's url, password included (read from DIR/.ks/, as the node's user can) */
  redisUrl(): Promise<string>;
  stop(): Promise<void>;
}


export interface KsNodeOptions {
  /** arguments for node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses) */
  nodeArgs?: string[];
}

/** Starts `ks start` as a child process (embedded Redis and NATS unless flags say otherwise). */
export async function startKsNode(flags: string[] = [], env: NodeJS.ProcessEnv = {}, options: KsNodeOptions = {}): Promise<KsNodeProcess> {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-bench-'));
  const port = await freePort();
  const args = [...(options.nodeArgs ?? []), KS_BIN, 'start', '--datadir', datadir, '--node-port', String(port), ...flags];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KS_LOG_LEVEL: 'warn', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ks start did not come up: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ks start exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    child,
    datadir,
    redisUrl: () => embeddedRedisUrl(url, datadir),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(datadir, { recursive: true, force: true });
    },
  };
}
