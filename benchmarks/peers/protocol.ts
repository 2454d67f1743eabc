import { createInterface } from 'node:readline';
import { latenciesMs as measureLatencies } from '../lib/report.js';

/**
 * The line protocol between the runner and a driver (same as peer_common.py): requests are JSON
 * lines on the driver's stdin, answers are lines on its stdout starting with PROTOCOL_PREFIX.
 */
export const PROTOCOL_PREFIX = '@@peer ';
export const ROUNDTRIP_WARMUP = 20;

/** Round-trip latencies with the peers benchmark's warm-up. */
export const latenciesMs = (oneCall: (i: number) => Promise<void>, n: number) => measureLatencies(oneCall, n, ROUNDTRIP_WARMUP);

export interface WorkloadRequest {
  workload: string;
  params?: Record<string, number>;
}

/** What one run of a workload measured: seconds, ms, p50/p99 ms, or why it does not apply. */
export type WorkloadResult = { seconds: number } | { ms: number } | { p50: number; p99: number } | { na: string };

export interface DriverInfo {
  version: string;
  pids: number[];
}

export type Workloads = Record<string, (params: Record<string, number>) => Promise<WorkloadResult>>;

function send(message: unknown): void {
  process.stdout.write(`${PROTOCOL_PREFIX}${JSON.stringify(message)}\n`);
}

/** Starts the system, answers requests until {stop} or end of stdin, then stops it. */
export async function serveDriver(start: () => Promise<DriverInfo>, workloads: Workloads, stop: () => Promise<void>): Promise<void> {
  try {
    send({ ready: true, ...(await start()) });
  } catch (error) {
    send({ ok: false, error: String((error as Error)?.stack ?? error) });
    await stop();
    return;
  }
  try {
    for await (const line of createInterface({ input: process.stdin })) {
      if (!line.trim()) continue;
      const request = JSON.parse(line) as WorkloadRequest & { stop?: boolean };
      if (request.stop) break;
      try {
        const run = workloads[request.workload];
        if (!run) throw new Error(`unknown workload ${request.workload}`);
        send({ ok: true, result: await run(request.params ?? {}) });
      } catch (error) {
        send({ ok: false, error: String((error as Error)?.stack ?? error) });
      }
    }
  } finally {
    await stop();
    send({ stopped: true });
  }
}

/** Resolves when `isLast` first accepts a chunk of output; the time is taken inside the handler. */
export class LastLineWatch {
  private tail = '';
  at: number | undefined;
  private resolveSeen!: () => void;
  readonly seen = new Promise<void>((resolve) => (this.resolveSeen = resolve));

  constructor(private readonly lastLine: string) {}

  write(chunk: string): void {
    if (this.at !== undefined) return;
    this.tail = (this.tail + chunk).slice(-(this.lastLine.length + 1));
    if (this.tail.endsWith(`${this.lastLine}\n`)) {
      this.at = performance.now();
      this.resolveSeen();
    }
  }
}
