import { Piscina } from 'piscina';
import { withoutSecrets } from '../../src/credentials.js';
import type { MessagePort } from 'node:worker_threads';
import type { ActiveJobs } from './active-jobs.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { ChannelHandshake, MainMessage, WorkerData, WorkerMessage, WorkerReport, WorkerTask } from './worker-protocol.js';

export type WorkerPoolDeps = Pick<ExecutorDeps, 'config' | 'log' | 'onDataPort'> & {
  jobs: ActiveJobs;
  /** each report a thread sends on its channel, in order */
  onReport: (report: WorkerReport) => void;
};

/** The piscina pool of worker threads, and the channels their reports come back on. */
export class WorkerPool {
  private pool!: Piscina;
  private readonly ports: MessagePort[] = [];

  constructor(private readonly deps: WorkerPoolDeps) {}

  start(): void {
    const { config } = this.deps;
    const workerData: WorkerData = { modulePath: config.modulePath, node: { name: config.nodeName, url: config.nodeUrl }, envs: config.envs };
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: config.numWorkers,
      maxThreads: config.numWorkers,
      idleTimeout: Number.POSITIVE_INFINITY,
      // 'disabled': an idle thread keeps its event loop running, so a timer a finished
      // task left behind fires (and crashes) then, not inside the next task.
      atomics: 'disabled',
      // No run/wait-time histograms: nothing reads them, and they cost per task.
      recordTiming: false,
      workerData,
      // Tasks never see the token or the Redis/NATS urls, even if the node was given them in its environment.
      env: withoutSecrets(process.env),
    });
    this.pool.on('message', (message: ChannelHandshake) => {
      if (message && typeof message === 'object' && 'ksChannel' in message) {
        this.adoptChannel(message.ksChannel);
        if (message.ksData) this.deps.onDataPort?.(message.ksData);
      }
    });
    this.pool.on('error', (error: unknown) => this.deps.log.error({ err: error }, 'worker pool error'));
  }

  /** Runs one piscina task; it rejects when its thread dies or `signal` stops it. */
  run(task: WorkerTask, signal: AbortSignal): Promise<unknown> {
    return this.pool.run(task, { signal });
  }

  /** Tells every thread to abort the job: its signal fires, and it is skipped if it has not started. */
  abort(id: string, reason: string): void {
    for (const port of this.ports) port.postMessage({ t: 'abort', id, reason } satisfies MainMessage);
  }

  async destroy(): Promise<void> {
    await this.pool?.destroy();
  }

  private adoptChannel(port: MessagePort): void {
    this.ports.push(port);
    port.on('message', (reports: WorkerMessage) => {
      for (const report of reports) this.deps.onReport(report);
    });
    // A thread started after a cancellation (replacing a stopped one) must skip those jobs too.
    for (const active of this.deps.jobs.values()) {
      if (active.endedBy === 'cancel' || active.endedBy === 'handback') port.postMessage({ t: 'abort', id: active.id, reason: active.endedBy } satisfies MainMessage);
    }
    port.on('close', () => {
      const index = this.ports.indexOf(port);
      if (index >= 0) this.ports.splice(index, 1);
    });
  }
}
