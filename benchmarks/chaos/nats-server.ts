import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitForPort } from '../../src/loopback-ports.js';
import { ownProcess } from './owned-processes.js';
import { signalAndWait } from '../lib/child-exit.js';

const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/** A nats-server on a free loopback port that can be killed -9 and restarted on the same port. */
export interface NatsServerProcess {
  url: string;
  readonly pid: number;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServerProcess> {
  const port = await freePort();
  let child!: ChildProcess;
  const disown = ownProcess('nats-server', () => child?.pid);
  const launch = async () => {
    child = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const exited = (signal: NodeJS.Signals, graceMs: number) => signalAndWait(child, signal, graceMs);
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    kill9: () => exited('SIGKILL', 0),
    restart: launch,
    async stop() {
      await exited('SIGTERM', 5000);
      disown();
    },
  };
}
