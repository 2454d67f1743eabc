import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { PROTOCOL_PREFIX } from './protocol.js';
import type { RunResult } from './figures.js';

/** A process identified by pid and start time, so that a recycled pid is never taken for it. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
  command: string;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function statOf(pid: number): { ppid: number; startTime: string; cpuTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // a zombie has already exited
    return { ppid: Number(fields[1]), startTime: fields[19], cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 120);
  } catch {
    return '?';
  }
}

export function identify(pid: number): ProcessIdentity | undefined {
  const stat = statOf(pid);
  return stat && { pid, startTime: stat.startTime, command: commandOf(pid) };
}

export function stillRunning(p: ProcessIdentity): boolean {
  return statOf(p.pid)?.startTime === p.startTime;
}

/** Every living descendant of `root` (from /proc), with its identity. */
export function descendantsOf(root: number): ProcessIdentity[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = statOf(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  const found: ProcessIdentity[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const id = identify(pid);
    if (id) found.push(id);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

export interface DriverReady {
  version: string;
  pids: number[];
}

/**
 * One driver (a system's client and everything it started), spoken to over the line protocol.
 * Tracks every process the driver started (reported pids and /proc descendants) so that stop()
 * can verify they are gone and kill, by pid, any that are not.
 */
export class DriverProcess {
  private readonly child: ChildProcess;
  private readonly answers: Array<(message: Record<string, unknown>) => void> = [];
  private readonly buffered: Record<string, unknown>[] = [];
  private readonly started = new Map<string, ProcessIdentity>();
  private stderrTail = '';
  private exited = false;

  constructor(readonly name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.track(this.child.pid!);
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-3000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (!line.startsWith(PROTOCOL_PREFIX)) return;
      const message = JSON.parse(line.slice(PROTOCOL_PREFIX.length)) as Record<string, unknown>;
      const waiter = this.answers.shift();
      if (waiter) waiter(message);
      else this.buffered.push(message);
    });
    this.child.once('exit', () => {
      this.exited = true;
      for (const waiter of this.answers.splice(0)) waiter({ ok: false, error: `driver exited: ${this.stderrTail}` });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private track(pid: number): void {
    const id = identify(pid);
    if (id) this.started.set(`${id.pid}:${id.startTime}`, id);
  }

  private trackTree(): void {
    for (const id of descendantsOf(this.child.pid!)) this.started.set(`${id.pid}:${id.startTime}`, id);
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    const early = this.buffered.shift();
    if (early) return Promise.resolve(early);
    if (this.exited) return Promise.resolve({ ok: false, error: `driver exited: ${this.stderrTail}` });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
      this.answers.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  /** Waits for the driver's start-up (servers, workers, warm-up); throws with its stderr when it fails. */
  async ready(timeoutMs = 180_000): Promise<DriverReady> {
    const message = await this.next(timeoutMs);
    this.trackTree();
    if (!message.ready) throw new Error(`${this.name} did not start: ${String(message.error ?? '')}\n${this.stderrTail}`);
    const ready = message as unknown as DriverReady;
    for (const pid of ready.pids) this.track(pid);
    return ready;
  }

  async run(workload: string, params: Record<string, number>, timeoutMs = 300_000): Promise<RunResult> {
    this.trackTree();
    this.child.stdin!.write(`${JSON.stringify({ workload, params })}\n`);
    const message = await this.next(timeoutMs);
    if (!message.ok) throw new Error(`${this.name} ${workload}: ${String(message.error)}`);
    return message.result as RunResult;
  }

  /**
   * Asks the driver to stop what it started, waits for it, then checks every process it ever had:
   * any still running after `graceMs` is killed by pid. Returns the leftovers it had to kill.
   */
  async stop(graceMs = 10_000): Promise<ProcessIdentity[]> {
    if (!this.exited) {
      this.trackTree();
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.stdin!.end(`${JSON.stringify({ stop: true })}\n`);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    const deadline = Date.now() + graceMs;
    let left = [...this.started.values()].filter(stillRunning);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      left = left.filter(stillRunning);
    }
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    return left;
  }

  /** CPU seconds (user + system) used so far by the driver and every process it started that is still running. */
  cpuSeconds(): number {
    this.trackTree();
    let ticks = 0;
    for (const p of this.started.values()) {
      const stat = statOf(p.pid);
      if (stat && stat.startTime === p.startTime) ticks += stat.cpuTicks;
    }
    return ticks / TICKS_PER_SECOND;
  }

  /** How many processes this driver is known to have had (itself included). */
  get processCount(): number {
    return this.started.size;
  }
}
