import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Actor, type Reply } from '../../src/actor.js';
import { Bus } from '../../src/bus.js';
import { checkNames, defaultConfig, type NodeConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { Registry } from '../../src/registry.js';
import { Store } from '../../src/store/store.js';
import { DataHolder, type DataHolderStats } from '../data-holder/data-holder.js';
import { registerDataRoutes } from '../data-holder/data-routes.js';
import { exposeTaskData } from '../data-holder/task-data-api.js';
import { Executor, type ExecutorStats } from '../executor/executor.js';
import { ResultSpill, SPILL_DEFAULTS } from '../executor/result-spill.js';
import { spilledResultTaker } from './take-spilled.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { BatchTrackers } from './batch-tracker.js';
import { startNats, startRedis, type ChildService } from './embedded-services.js';
import { buildGateway } from './http-gateway.js';
import { NodeMetrics } from './metrics.js';
import { metricsProbes } from './metrics-probes.js';
import { registerMetricsRoutes } from './metrics-routes.js';
import { Reaper } from './reaper.js';
import { startJobHistory, type JobHistory } from './history/job-history.js';
import { registerDashboard } from './dashboard/dashboard.js';

export interface NodeOptions extends Partial<NodeConfig> {
  datadir: string;
  /** replaces the default Scheduler (DESIGN §2) */
  scheduler?: Scheduler;
  log?: Logger;
}

export type NodeMessage = { type: 'status'; reply: Reply<NodeStatus> };

export interface NodeStatus {
  name: string;
  url: string;
  queues: string[];
  readOnly: boolean;
  executor: ExecutorStats;
  data: DataHolderStats;
  services: { name: string; pid: number; url: string }[];
}

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * One kitchensink node: owns the configuration, the Redis and NATS connections (and the
 * child processes serving them when embedded), the HTTP gateway, the heartbeat, and the
 * lifetimes of the Scheduler, Executor and DataHolder.
 */
export class Node extends Actor<NodeMessage> {
  readonly config: NodeConfig;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  readonly dataHolder = new DataHolder();
  private executor?: Executor;
  private store?: Store;
  private bus?: Bus;
  private registry?: Registry;
  private trackers?: BatchTrackers;
  private spill?: ResultSpill;
  private reaper?: Reaper;
  private history?: JobHistory;
  private http?: FastifyInstance;
  private readonly children: ChildService[] = [];
  private stopping?: Promise<void>;

  constructor(options: NodeOptions) {
    super('node');
    const { scheduler, log, ...config } = options;
    this.config = defaultConfig({ ...config, datadir: resolve(config.datadir) });
    if (this.config.modulePath && !isAbsolute(this.config.modulePath)) this.config.modulePath = resolve(this.config.modulePath);
    this.log = log ?? createLogger(this.config.nodeName);
    this.scheduler = scheduler ?? new Scheduler();
  }

  get url(): string {
    return this.config.nodeUrl;
  }

  get services(): readonly ChildService[] {
    return this.children;
  }

  /** Starts everything; if any step fails, whatever was started is stopped again. */
  async start(): Promise<void> {
    try {
      await this.startSteps();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async startSteps(): Promise<void> {
    const { config, log } = this;
    checkNames(config);
    checkBindAllowed(config);
    await mkdir(config.datadir, { recursive: true });
    const functions = await registeredFunctionNames(config.modulePath);

    if (config.embeddedRedis) {
      const redis = await startRedis(config.datadir, log);
      this.children.push(redis);
      config.redisUrl = redis.url;
    }
    if (config.embeddedNats) {
      const nats = await startNats(config.datadir, log);
      this.children.push(nats);
      config.natsUrl = nats.url;
    }
    this.store = await Store.connect(config.redisUrl ?? 'redis://127.0.0.1:6379', { prefix: config.prefix, name: `ks-${config.nodeName}` });
    this.bus = await Bus.connect(config.natsUrl ?? 'nats://127.0.0.1:4222', { name: `ks-${config.nodeName}`, prefix: config.prefix });
    this.registry = new Registry(this.store, {
      name: config.nodeName,
      url: config.nodeUrl,
      queues: config.queues,
      workers: config.numWorkers,
      readOnly: config.readOnly,
      started: Date.now(),
      functions,
    }, config.heartbeatMs, this.bus);

    const spill = new ResultSpill(join(config.datadir, '.ks', 'results'), { ...SPILL_DEFAULTS, holdMs: config.resultHoldMs });
    this.spill = spill;
    const metrics = new NodeMetrics(config.nodeName, this.store, metricsProbes(this.store, this.bus, () => this.ask<NodeStatus>((reply) => ({ type: 'status', reply }))));
    const deps = { config, store: this.store, bus: this.bus, registry: this.registry, log, spill, metrics };
    await this.dataHolder.start(deps);
    const dataHolder = this.dataHolder;
    this.history = await startJobHistory(deps);
    this.executor = new Executor({ ...deps, history: this.history.recorder, onDataPort: (port) => exposeTaskData(port, dataHolder) });
    await this.executor.start();
    const executor = this.executor;
    this.scheduler.attach({
      ...deps,
      local: {
        queues: executor.queues,
        reserve: () => executor.ask<number>((reply) => ({ type: 'reserve', reply })),
        adopt: (jobs, reserved, recorded, sources) => executor.tell({ type: 'adopt', jobs, reserved, recorded, sources }),
      },
    });
    this.trackers = new BatchTrackers({
      bus: this.bus,
      store: this.store,
      log,
      pollMs: config.pollMs,
      nodeName: config.nodeName,
      takeSpilled: spilledResultTaker(config, this.registry, spill),
      delivered: (ids) => {
        for (const id of ids) spill.discard(id);
      },
    });

    this.http = buildGateway({
      ...deps,
      scheduler: this.scheduler,
      executor: this.executor,
      trackers: this.trackers,
      version: VERSION,
      nodeStatus: () => this.ask<NodeStatus>((reply) => ({ type: 'status', reply })),
      extend: (app) => {
        registerDataRoutes(app, dataHolder, config.uploadIdleMs);
        registerMetricsRoutes(app, metrics, { metricsPublic: config.metricsPublic === true });
        this.history!.routes(app, (ids) => executor.ask<Map<string, string>>((r) => ({ type: 'cancel', ids, reply: r })));
        registerDashboard(app, { ...deps, history: this.history!, dataHolder, status: () => this.ask<NodeStatus>((reply) => ({ type: 'status', reply })) });
      },
    });
    const url = new URL(config.nodeUrl);
    try {
      await this.http.listen({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new Error(`port ${url.port} on ${url.hostname} is already in use: pick another with --node-port or --node-url`);
      }
      throw error;
    }
    this.reaper = new Reaper(deps);
    await this.reaper.reclaimLeftovers();
    await this.registry.join();
    this.reaper.start();
    log.info({ url: config.nodeUrl, workers: config.numWorkers, queues: config.queues }, 'node started');
  }

  /** Stops accepting work, leaves the cluster, stops the pool and the child processes. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopSteps();
    return this.stopping;
  }

  private async stopSteps(): Promise<void> {
    const steps: [string, () => Promise<unknown> | unknown][] = [
      ['reaper', () => this.reaper?.stop()],
      ['http', () => this.http?.close()],
      ['data-holder', () => this.dataHolder.stop()],
      ['registry', () => this.registry?.leave()],
      ['trackers', () => this.trackers?.closeAll()],
      ['executor', () => this.executor?.stop()],
      ['history', () => this.history?.stop()],
      // After leaving and stopping the executor: what it was running is re-queued elsewhere.
      ['handover', () => this.reaper?.handOver()],
      // Results still held in memory outlive the process, for a client that comes back.
      ['results', () => this.spill?.persistAll()],
      ['bus', () => this.bus?.close()],
      ['store', () => this.store?.close()],
      ...this.children.slice().reverse().map((child): [string, () => Promise<void>] => [child.name, () => child.stop()]),
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.log.warn({ err: error, step: name }, 'error while stopping');
      }
    }
    this.markStopped();
    this.log.info('node stopped');
    this.log.flush?.();
  }

  protected async receive(message: NodeMessage): Promise<void> {
    switch (message.type) {
      case 'status': {
        const [executor, data] = await Promise.all([
          this.executor!.ask<ExecutorStats>((r) => ({ type: 'stats', reply: r })),
          this.dataHolder.ask<DataHolderStats>((r) => ({ type: 'stats', reply: r })),
        ]);
        message.reply.resolve({
          name: this.config.nodeName,
          url: this.config.nodeUrl,
          queues: this.config.queues,
          readOnly: this.config.readOnly,
          executor,
          data,
          services: this.children.map((c) => ({ name: c.name, pid: c.pid, url: c.url })),
        });
      }
    }
  }
}

export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/;

function checkBindAllowed(config: NodeConfig): void {
  const host = new URL(config.nodeUrl).hostname;
  if (!LOOPBACK.test(host) && !config.token) {
    throw new Error(`binding ${host} (not a loopback address) requires a token: pass --token or set KS_TOKEN`);
  }
}

async function registeredFunctionNames(modulePath: string | undefined): Promise<string[]> {
  if (!modulePath) return [];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`--module ${modulePath} could not be loaded: ${(error as Error).message}`);
  }
  const names = Object.entries(mod).filter(([, v]) => typeof v === 'function').map(([k]) => k);
  if (names.length === 0) throw new Error(`--module ${modulePath} exports no functions`);
  return names.sort();
}
