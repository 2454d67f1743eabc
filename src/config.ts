import { availableParallelism, hostname } from 'node:os';

/** Everything a node is started with (the `ks start` flags, architecture §9), after defaults. */
export interface NodeConfig {
  datadir: string;
  numWorkers: number;
  nodeUrl: string;
  nodeName: string;
  redisUrl?: string;
  natsUrl?: string;
  /** start redis-server / nats-server as child processes (the default) */
  embeddedRedis: boolean;
  embeddedNats: boolean;
  readOnly: boolean;
  modulePath?: string;
  queues: string[];
  prefix: string;
  token?: string;
  /** PEM files: the API is served over HTTPS with this certificate and key (docs/security.md) */
  tlsCert?: string;
  tlsKey?: string;
  /** PEM file of the CA that signed the other nodes' certificates (peer copies, results); also Redis's and NATS's unless given apart */
  tlsCa?: string;
  /** PEM file of the CA of Redis's certificate (`rediss://`) */
  redisCa?: string;
  /** PEM file of the CA of the NATS servers' certificates; TLS is then required */
  natsCa?: string;
  /** the text of a NATS credentials file (`nsc`'s JWT and seed), or one line `user:password` or a token; `--join` hands it on */
  natsCreds?: string;
  /**
   * A view-only token (`--ui-token`): opens the dashboard, `/metrics` and the job history;
   * anything that submits, cancels, writes or deletes answers 403 to it. Needs `token`.
   */
  uiToken?: string;
  /** `GET /metrics` answers without the token */
  metricsPublic?: boolean;
  /** largest request body accepted, bytes */
  bodyLimit: number;
  /** ms an undelivered job stays in Redis */
  jobTtlMs: number;
  /** ms an undelivered outcome stays in Redis */
  resultTtlMs: number;
  /** ms of delay per locality choice (architecture §5); 0 turns delay scheduling off */
  localityWaitMs: number;
  /**
   * bytes per second a copy between nodes is assumed to move (0: off): a batch's locality
   * wait is at least the time its largest call's data takes to copy at this rate
   */
  localityCopyRate: number;
  /** ms an idle executor waits for a wake-up before polling Redis */
  pollMs: number;
  /** ms between heartbeats; a node is lost after `heartbeatMs * 3` without one */
  heartbeatMs: number;
  /** how many times a job whose node was lost is queued again before it fails with NodeLost */
  lostJobRetries: number;
  /** results larger than this are not sent inline in events; they are read from Redis on delivery */
  inlineResultBytes: number;
  /** results larger than this stay on the computing node (memory, then disk), not in Redis */
  spillResultBytes: number;
  /** ms such a result waits in memory to be taken before it is written to the node's disk */
  resultHoldMs: number;
  /** ms a data upload may send nothing before it is dropped (its write fails, its claim is given up) */
  uploadIdleMs: number;
  /** free bytes a data write must leave on the data directory's disk; default: max(1 GiB, 5% of the disk) */
  minFreeDisk?: number;
  /** bytes a read-only node keeps of the copies its tasks read; default: min(10 GiB, 10% of the disk) */
  cacheMax?: number;
  /** bytes of the node-wide memory tier (data read by tasks, shared by threads); 0 turns it off; default: min(4 GiB, a quarter of memory) */
  memoryCache?: number;
  /** named npm environments (`--env NAME=DIR`): name -> project folder whose node_modules tasks import from */
  envs?: Record<string, string>;
  /** ms a stopping node lets its running jobs finish before it hands the rest over */
  drainTimeoutMs: number;
  /** percent of Redis's maxmemory above which submits and data saves are refused (503) */
  redisMemoryLimit: number;
  /** the embedded redis-server's maxmemory, bytes; default: half the machine's memory */
  redisMaxmemory?: number;
  /** a submit is answered only once its commit is on this many Redis replicas (WAIT; docs/scaling.md) */
  redisReplicaAcks?: number;
  /** ms a submit waits for those replicas before it is refused (default 5000) */
  redisReplicaTimeoutMs?: number;
  /** job history (docs/dashboard.md#job-history): ms an entry is kept, most entries, most bytes; the cluster keeps its first node's */
  historyTtlMs?: number;
  historyMax?: number;
  historyBytes?: number;
}

export const DEFAULT_PORT = 6323;
export const DEFAULT_NODE_URL = `http://127.0.0.1:${DEFAULT_PORT}/`;
export const DEFAULT_QUEUES = ['default', 'data'];

export function defaultConfig(overrides: Partial<NodeConfig> & { datadir: string }): NodeConfig {
  const nodeUrl = servedScheme(normalizeUrl(overrides.nodeUrl ?? DEFAULT_NODE_URL), overrides.tlsCert !== undefined);
  const port = new URL(nodeUrl).port || '80';
  return {
    numWorkers: availableParallelism(),
    nodeName: sanitizeName(`${hostname()}-${port}`),
    embeddedRedis: !overrides.redisUrl,
    embeddedNats: !overrides.natsUrl,
    readOnly: false,
    queues: DEFAULT_QUEUES,
    prefix: '',
    bodyLimit: 512 * 1024 * 1024,
    jobTtlMs: 24 * 3600_000,
    resultTtlMs: 3600_000,
    localityWaitMs: 50,
    localityCopyRate: 100_000_000,
    pollMs: 1000,
    heartbeatMs: 1000,
    lostJobRetries: 1,
    inlineResultBytes: 64 * 1024,
    spillResultBytes: 256 * 1024,
    resultHoldMs: 5_000,
    uploadIdleMs: 120_000,
    drainTimeoutMs: 30_000,
    redisMemoryLimit: 90,
    ...stripUndefined(overrides),
    datadir: overrides.datadir,
    nodeUrl,
  };
}

/** With a certificate the API is served over HTTPS: an `http://` node url becomes `https://`. */
function servedScheme(url: string, tls: boolean): string {
  if (!tls || !url.startsWith('http://')) return url;
  return `https://${url.slice('http://'.length)}`;
}

export function normalizeUrl(url: string): string {
  const parsed = new URL(url);
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed.href;
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * Node and queue names become parts of Redis keys, of host queues (`<queue>|<node>`), of the
 * comma-separated queue lists jobs carry and of NATS subjects: letters, digits, `-` and `_` only.
 */
export function checkNames(config: Pick<NodeConfig, 'nodeName' | 'queues'>): void {
  if (!NAME.test(config.nodeName)) {
    throw new Error(`node name ${JSON.stringify(config.nodeName)} is not allowed: use 1 to 100 letters, digits, '-' or '_'`);
  }
  const bad = config.queues.find((queue) => !NAME.test(queue));
  if (bad !== undefined) {
    throw new Error(`queue name ${JSON.stringify(bad)} is not allowed: use 1 to 100 letters, digits, '-' or '_' (a node's own host queues are added for it)`);
  }
}

/** A default node name made fit for queue names and NATS subjects: letters, digits, `_` and `-` only. */
export function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '-');
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
