import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rootCertificates } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { Agent, setGlobalDispatcher } from 'undici';
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
import { Scheduler, type SchedulerActor } from '../scheduler/scheduler.js';
import type { Router } from '../scheduler/router.js';
import { BatchTrackers } from './batch-tracker.js';
import { startNats, startRedis, type ChildService } from './embedded-services.js';
import { buildGateway } from './http-gateway.js';
import { NodeMetrics } from './metrics.js';
import { metricsProbes } from './metrics-probes.js';
import { registerMetricsRoutes } from './metrics-routes.js';
import { Reaper } from './reaper.js';
import { ConnectionWatch, natsAddress } from './connection-watch.js';
import { checkNameFree, instanceId } from './node-identity.js';
import { checkRedisMemory, readMemory, redisAddress, RedisMemoryGuard } from './redis-memory.js';
import { registerRequestGates } from './request-gates.js';
import { startJobHistory, type JobHistory } from './history/job-history.js';
import { checkTokens } from './access.js';
import { registerDashboard } from './dashboard/dashboard.js';

export interface NodeOptions extends Partial<NodeConfig> {
  datadir: string;
  /** replaces the default Scheduler actor (architecture §2); checked by shape, not class */
  scheduler?: SchedulerActor;
  /** routes the default Scheduler's calls instead of `localityRouter` (not with `scheduler`) */
  router?: Router;
  log?: Logger;
}

/** A line for the operator about what a stopping node does (`ks start` prints it). */
export type StopReport = (line: string) => void;

/** How long a stop step may take before the node goes on without it (Redis or NATS gone). */
const STOP_STEP_MS = 5_000;

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
 *
 * Mailbox: serial (its one message, `status`, asks the Executor and DataHolder and waits).
 */
export class Node extends Actor<NodeMessage> {
  readonly config: NodeConfig;
  readonly log: Logger;
  readonly scheduler: SchedulerActor;
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
  private winding = false;
  private cutDrainShort!: () => void;
  private readonly drainCut = new Promise<void>((resolve) => { this.cutDrainShort = resolve; });
  private readonly connections: ConnectionWatch;
  private memoryGuard?: RedisMemoryGuard;
  private openRequests = 0;

  constructor(options: NodeOptions) {
    super('node');
    const { scheduler, router, log, ...config } = options;
    if (scheduler && router) throw new Error('give a Node a scheduler or a router, not both: a router is the default Scheduler\'s');
    this.config = defaultConfig({ ...config, datadir: resolve(config.datadir) });
    if (this.config.modulePath && !isAbsolute(this.config.modulePath)) this.config.modulePath = resolve(this.config.modulePath);
    this.log = log ?? createLogger(this.config.nodeName);
    this.scheduler = scheduler ?? new Scheduler({ router });
    this.connections = new ConnectionWatch(this.log);
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
    checkTokens(config);
    await mkdir(config.datadir, { recursive: true });
    const functions = await registeredFunctionNames(config.modulePath);

    const peerCa = readPem(config.tlsCa, '--tls-ca');
    // Results and views this node fetches from other nodes (undici's request) trust the cluster's CA too.
    if (peerCa) setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, peerCa] } }));
    const instance = await instanceId(config.datadir);
    if (config.embeddedRedis) {
      const redis = await startRedis(config.datadir, log, config.redisMaxmemory ?? Math.floor(totalmem() / 2));
      this.children.push(redis);
      config.redisUrl = redis.connectUrl;
    }
    if (config.embeddedNats) {
      const nats = await startNats(config.datadir, log);
      this.children.push(nats);
      config.natsUrl = nats.connectUrl;
    }
    const redisUrl = config.redisUrl ?? 'redis://127.0.0.1:6379';
    const natsUrl = config.natsUrl ?? 'nats://127.0.0.1:4222';
    this.store = await Store.connect(redisUrl, {
      prefix: config.prefix,
      name: `ks-${config.nodeName}`,
      ca: readPem(config.redisCa ?? config.tlsCa, '--redis-ca'),
      replicaAcks: config.redisReplicaAcks,
      replicaAckTimeoutMs: config.redisReplicaTimeoutMs,
    });
    const store = this.store;
    const moved = await store.migrateLegacyKeys();
    if (moved) {
      log.warn(`moved ${moved.moved} Redis keys of the layout before hash tags (${moved.from}*) to ${store.keys.base}*`
        + (moved.kept ? `; ${moved.kept} were left under ${moved.from} because their new name existed already` : ''));
    }
    store.onDataLoss((loss) => log.error({ epoch: loss.current, was: loss.previous, found: loss.found }, 'Redis lost its data (the cluster epoch key was missing or changed): jobs, queues and records written before are gone'));
    const where = redisAddress(redisUrl);
    this.connections.watchRedis(store, where);
    const memory = await readMemory(store);
    const warning = checkRedisMemory(memory, where);
    if (warning) log.warn(warning);
    this.memoryGuard = new RedisMemoryGuard(store, { limitPercent: config.redisMemoryLimit, intervalMs: config.heartbeatMs, where, log });
    this.memoryGuard.start(memory);
    const memoryGuard = this.memoryGuard;
    await checkNameFree(store, config.nodeName, instance);
    this.bus = await Bus.connect(natsUrl, { name: `ks-${config.nodeName}`, prefix: config.prefix, ca: readPem(config.natsCa ?? config.tlsCa, '--nats-ca'), creds: config.natsCreds });
    this.connections.watchNats(this.bus, natsAddress(natsUrl));
    this.registry = new Registry(this.store, {
      name: config.nodeName,
      url: config.nodeUrl,
      queues: config.queues,
      workers: config.numWorkers,
      readOnly: config.readOnly,
      started: Date.now(),
      functions,
      envs: Object.keys(config.envs ?? {}),
      instance,
    }, config.heartbeatMs, this.bus);

    const spill = new ResultSpill(join(config.datadir, '.ks', 'results'), { ...SPILL_DEFAULTS, holdMs: config.resultHoldMs });
    this.spill = spill;
    const metrics = new NodeMetrics(config.nodeName, this.store, metricsProbes(this.store, this.bus, () => this.ask((reply) => ({ type: 'status', reply }))));
    const deps = { config, store: this.store, bus: this.bus, registry: this.registry, log, spill, metrics };
    // Jobs still marked running under this name (an earlier process that was killed) are taken
    // back before this executor claims: reaped after, its own fresh claims would run twice.
    this.reaper = new Reaper(deps);
    await this.reaper.reclaimLeftovers();
    await this.dataHolder.start({ ...deps, admitSave: () => memoryGuard.check('data save') });
    const dataHolder = this.dataHolder;
    this.history = await startJobHistory(deps);
    this.executor = new Executor({ ...deps, history: this.history.recorder, onDataPort: (port) => exposeTaskData(port, dataHolder) });
    await this.executor.start();
    const executor = this.executor;
    this.scheduler.attach({
      ...deps,
      local: {
        queues: executor.queues,
        reserve: () => executor.ask((reply) => ({ type: 'reserve', reply })),
        adopt: (jobs, reserved, sources) => executor.tell({ type: 'adopt', jobs, reserved, sources }),
      },
    });
    const spilledResults = spilledResultTaker(config, this.registry, spill);
    this.trackers = new BatchTrackers({
      bus: this.bus,
      store: this.store,
      log,
      pollMs: config.pollMs,
      nodeName: config.nodeName,
      recordLifetimeMs: config.jobTtlMs + config.resultTtlMs,
      takeSpilled: spilledResults.take,
      delivered: spilledResults.delivered,
    });

    this.http = buildGateway({
      ...deps,
      scheduler: this.scheduler,
      executor: this.executor,
      trackers: this.trackers,
      version: VERSION,
      nodeStatus: () => this.ask((reply) => ({ type: 'status', reply })),
      extend: (app) => {
        registerRequestGates(app, {
          redisLost: () => this.connections.redisUp(store) ? undefined : `this node lost Redis at ${where} ${lostFor(this.connections.redisLostSince)}and is retrying: try again later or another node`,
          checkMemory: (what) => memoryGuard.check(what),
          draining: () => this.winding,
        });
        app.addHook('onRequest', async () => { this.openRequests++; });
        app.addHook('onResponse', async () => { this.openRequests--; });
        registerDataRoutes(app, dataHolder, config.uploadIdleMs);
        registerMetricsRoutes(app, metrics, { metricsPublic: config.metricsPublic === true });
        this.history!.routes(app, (ids) => executor.ask((r) => ({ type: 'cancel', ids, reply: r })));
        registerDashboard(app, { ...deps, history: this.history!, dataHolder, status: () => this.ask((reply) => ({ type: 'status', reply })) });
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
    await this.registry.join();
    this.reaper.start();
    log.info({ url: config.nodeUrl, workers: config.numWorkers, queues: config.queues }, 'node started');
  }

  /**
   * Drains (takes no new work, lets running jobs finish for up to `drainTimeoutMs`), then
   * leaves the cluster, hands over what still runs, stops the pool and the child processes.
   * Idempotent. `report` hears what it is doing, for the operator.
   */
  stop(report: StopReport = () => undefined): Promise<void> {
    this.stopping ??= this.stopSteps(report);
    return this.stopping;
  }

  /** Cuts a drain in progress short: what still runs is handed over now. */
  stopNow(): void {
    this.cutDrainShort();
  }

  private redisUp(): boolean {
    return this.store !== undefined && this.connections.redisUp(this.store);
  }

  /** Stop steps that need Redis are skipped while it is lost: its jobs come back through the reaper. */
  private ifRedis(step: () => Promise<unknown> | unknown): () => Promise<unknown> | unknown {
    return () => (this.redisUp() ? step() : undefined);
  }

  private async windDown(report: StopReport): Promise<void> {
    const executor = this.executor;
    if (!executor || !this.registry) return;
    this.winding = true;
    this.reaper?.stop();
    this.memoryGuard?.stop();
    await this.bounded('withdraw', this.ifRedis(() => this.registry?.withdraw()));
    const running = executor.activeJobs;
    const seconds = this.config.drainTimeoutMs / 1000;
    if (running > 0) report(`draining: ${running} job${running === 1 ? '' : 's'} running, waiting up to ${seconds} s (Ctrl-C again to stop now)`);
    const { handedBack, unfinished } = await executor.finishRunning(this.config.drainTimeoutMs, this.drainCut);
    if (handedBack > 0) report(`handed back ${handedBack} job${handedBack === 1 ? '' : 's'} not started yet`);
    if (unfinished > 0) report(`${unfinished} job${unfinished === 1 ? '' : 's'} still running: handing ${unfinished === 1 ? 'it' : 'them'} over to the other nodes`);
    else if (running > 0) report('running jobs finished');
    // Let the answers carrying the last outcomes (result streams of this node's clients) go out.
    const deadline = Date.now() + 1_000;
    while (this.openRequests > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  private async bounded(name: string, step: () => Promise<unknown> | unknown, ms = STOP_STEP_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(step),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`gave up after ${ms / 1000} s`)), ms); }),
      ]);
    } catch (error) {
      this.log.warn({ err: error, step: name }, 'error while stopping');
    } finally {
      clearTimeout(timer);
    }
  }

  private async stopSteps(report: StopReport): Promise<void> {
    await this.windDown(report);
    const steps: [string, () => Promise<unknown> | unknown][] = [
      ['reaper', () => this.reaper?.stop()],
      ['memory-guard', () => this.memoryGuard?.stop()],
      ['http', () => this.http?.close()],
      ['data-holder', () => this.dataHolder.stop()],
      ['registry', this.ifRedis(() => this.registry?.leave())],
      ['trackers', () => this.trackers?.closeAll()],
      ['executor', () => this.executor?.stop()],
      ['history', () => this.history?.stop()],
      // After leaving and stopping the executor: what it was running is re-queued elsewhere.
      ['handover', this.ifRedis(() => this.reaper?.handOver())],
      // Results still held in memory outlive the process, for a client that comes back.
      ['results', () => this.spill?.persistAll()],
      ['connections', () => this.connections.close()],
      ['bus', () => this.bus?.close()],
      ['store', () => (this.redisUp() ? this.store?.close() : this.store?.disconnect())],
      ...this.children.slice().reverse().map((child): [string, () => Promise<void>] => [child.name, () => child.stop()]),
    ];
    // A child gets SIGKILL after 5 s of SIGTERM (stopChild): its step may take a little longer.
    for (const [name, step] of steps) await this.bounded(name, step, name.endsWith('-server') ? 2 * STOP_STEP_MS : STOP_STEP_MS);
    this.markStopped();
    this.log.info('node stopped');
    report('stopped');
    this.log.flush?.();
  }

  protected async receive(message: NodeMessage): Promise<void> {
    switch (message.type) {
      case 'status': {
        const [executor, data] = await Promise.all([
          this.executor!.ask((r) => ({ type: 'stats', reply: r })),
          this.dataHolder.ask((r) => ({ type: 'stats', reply: r })),
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

function lostFor(since: number | undefined): string {
  return since === undefined ? '' : `${((Date.now() - since) / 1000).toFixed(0)} s ago `;
}

export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/;

/** A PEM file's text (a CA), or undefined when no file is named. */
function readPem(path: string | undefined, flag: string): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${flag} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function checkBindAllowed(config: NodeConfig): void {
  const url = new URL(config.nodeUrl);
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together: give both (PEM files) to serve the API over HTTPS');
  if (url.protocol === 'https:' && !config.tlsCert) throw new Error(`--node-url ${config.nodeUrl} is https: give --tls-cert and --tls-key`);
  const host = url.hostname;
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
