import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Command } from '@oclif/core';
import { Agent, request } from 'undici';
import { LOOPBACK, Node } from '../../actors/node/node.js';
import { normalizeUrl } from '../../src/config.js';
import { readSecretFile, redactUrl, SECRET_ENV } from '../../src/credentials.js';
import { parseRedisUrl, redisUrlFromFlags } from '../../src/store/redis-target.js';
import { parseEnvFlags } from '../../src/environments.js';
import { nodeFlags } from '../node-flags.js';
import { loadScheduling } from '../scheduling-module.js';

export default class Start extends Command {
  static override description = 'Start a kitchensink node (with its own redis-server and nats-server unless told otherwise)';
  static override examples = [
    '<%= config.bin %> start --datadir ./ks-data',
    '<%= config.bin %> start --datadir /srv/ks --no-redis --redis-url redis://10.0.0.5:6379 --no-nats --nats-url nats://10.0.0.5:4222 --node-url http://10.0.0.7:6323/ --token $KS_TOKEN',
  ];
  static override flags = nodeFlags;
  /** `--json`: once listening, one JSON object (node, url, workers, services) instead of the line. */
  static override enableJsonFlag = true;

  async run(): Promise<{ node: string; url: string; workers: number; services: { name: string; url: string; pid: number }[] }> {
    const { flags } = await this.parse(Start);
    hideSecretsOf(process.argv);
    // Read once; neither worker threads nor child processes inherit them (docs/security.md).
    for (const name of SECRET_ENV) delete process.env[name];
    const secrets = tryOr(() => ({
      token: flags['token-file'] ? readSecretFile(flags['token-file'], '--token-file') : flags.token,
      redisUrl: flags['redis-url-file'] ? readSecretFile(flags['redis-url-file'], '--redis-url-file') : flags['redis-url'],
      peerCa: flags['tls-ca'] ? readFileSync(flags['tls-ca'], 'utf8') : undefined,
      natsCreds: flags['nats-creds'] ? readFileSync(flags['nats-creds'], 'utf8') : undefined,
      uiToken: flags['ui-token-file'] ? readSecretFile(flags['ui-token-file'], '--ui-token-file') : flags['ui-token'],
    }), (message) => this.fail(message));
    let url: URL;
    try {
      url = new URL(normalizeUrl(flags['node-url']));
    } catch {
      return this.fail(`--node-url ${flags['node-url']} is not a URL (for example http://127.0.0.1:6323/)`);
    }
    if (flags['node-port']) url.port = String(flags['node-port']);
    const redisUrl = tryOr(() => redisUrlFromFlags({ url: secrets.redisUrl, cluster: flags['redis-cluster'], sentinels: flags['redis-sentinels'], master: flags['redis-master'] }), (message) => this.fail(message));
    if (!flags.redis && !redisUrl) this.warn('--no-redis without --redis-url: using redis://127.0.0.1:6379');
    if (!flags.nats && !flags['nats-url']) this.warn('--no-nats without --nats-url: using nats://127.0.0.1:4222');

    const dispatcher = secrets.peerCa ? new Agent({ connect: { ca: [...rootCertificates, secrets.peerCa] } }) : undefined;
    const joined = flags.join ? await clusterOf(flags.join, secrets.token, dispatcher).catch((error: Error) => this.fail(error.message)) : undefined;
    if (joined) {
      const local = [joined.redisUrl, joined.natsUrl].find((service) => LOOPBACK.test(hostOf(service)));
      if (local && !LOOPBACK.test(url.hostname)) {
        return this.fail(`--join ${flags.join}: the cluster uses ${redactUrl(local)}, a loopback address this node (${url.host}) would take for its own; start the head with --redis-url/--nats-url on servers every machine can reach`);
      }
      this.log(`joining the cluster of ${joined.node} (${flags.join})`);
      const embedded = await embeddedServicesOf(flags.join!, secrets.token, dispatcher);
      if (embedded.length > 0) {
        this.logToStderr(`ks start: warning: ${joined.node} runs the cluster's ${embedded.join(' and ')} as its own child process${embedded.length > 1 ? 'es' : ''}: the cluster stops working when that node stops (run them apart and start every node with --redis-url/--nats-url for a cluster that outlives any node)`);
      }
    }

    const node = new Node({
      datadir: flags.datadir,
      numWorkers: flags['num-workers'],
      nodeUrl: url.href,
      nodeName: flags['node-name'],
      redisUrl: joined?.redisUrl ?? redisUrl ?? (flags.redis ? undefined : 'redis://127.0.0.1:6379'),
      redisReplicaAcks: flags['redis-replica-acks'],
      redisReplicaTimeoutMs: flags['redis-replica-timeout'],
      natsUrl: joined?.natsUrl ?? flags['nats-url'] ?? (flags.nats ? undefined : 'nats://127.0.0.1:4222'),
      readOnly: flags['read-only'],
      modulePath: flags.module ? resolve(flags.module) : undefined,
      queues: flags.queue,
      prefix: joined?.prefix ?? flags.prefix,
      token: secrets.token,
      tlsCert: flags['tls-cert'],
      tlsKey: flags['tls-key'],
      tlsCa: flags['tls-ca'],
      redisCa: flags['redis-ca'],
      natsCa: flags['nats-ca'],
      natsCreds: joined ? joined.natsCreds : secrets.natsCreds,
      uiToken: secrets.uiToken,
      metricsPublic: flags['metrics-public'],
      localityWaitMs: flags['locality-wait'],
      localityCopyRate: flags['locality-copy-rate'],
      lostJobRetries: flags['lost-job-retries'],
      resultHoldMs: flags['result-hold'],
      uploadIdleMs: flags['upload-idle'],
      bodyLimit: flags['max-body'],
      minFreeDisk: flags['min-free-disk'],
      cacheMax: flags['cache-max'],
      memoryCache: flags['memory-cache'],
      envs: flags.env ? tryOr(() => parseEnvFlags(flags.env!), (message) => this.fail(message)) : undefined,
      drainTimeoutMs: flags['drain-timeout'],
      redisMemoryLimit: flags['redis-memory-limit'],
      ...(flags.router ? await loadScheduling(flags.router).catch((error: Error) => this.fail(error.message)) : {}),
      historyTtlMs: flags['history-ttl'], historyMax: flags['history-max'], historyBytes: flags['history-bytes'],
    });

    // First signal: drain; second: hand over what still runs now; third: exit at once.
    let signals = 0;
    const shutdown = (signal: string) => {
      signals++;
      if (signals === 1) {
        this.logToStderr(`${signal}: stopping`);
        node.stop((line) => this.logToStderr(line)).then(() => process.exit(0), () => process.exit(1));
      } else if (signals === 2) {
        this.logToStderr(`${signal} again: stopping now (running jobs are handed over)`);
        node.stopNow();
      } else {
        this.logToStderr(`${signal} a third time: exiting at once`);
        process.exit(1);
      }
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));

    try {
      await node.start();
    } catch (error) {
      this.fail((error as Error).message);
    }
    const services = node.services.map((s) => `${s.name} ${s.url} (pid ${s.pid})`).join(', ');
    this.log(`kitchensink node ${node.config.nodeName} listening on ${node.url} with ${node.config.numWorkers} workers${services ? `; started ${services}` : ''}`);
    return { node: node.config.nodeName, url: node.url, workers: node.config.numWorkers, services: node.services.map((s) => ({ name: s.name, url: s.url, pid: s.pid })) };
  }

  /** One line on stderr and exit 1 (oclif's `error()` would wrap a long message over several). */
  private fail(message: string): never {
    this.logToStderr(`ks start: ${message}`);
    return this.exit(1);
  }
}

interface ClusterInfo {
  node: string;
  redisUrl: string;
  natsUrl: string;
  natsCreds?: string;
  prefix: string;
}

/** `dispatcher`: trusts the cluster's CA (`--tls-ca`) for an https node. */
async function clusterOf(url: string, token: string | undefined, dispatcher: Agent | undefined): Promise<ClusterInfo> {
  const target = new URL('rpc/cluster', url.endsWith('/') ? url : `${url}/`);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(target, { headers: token ? { authorization: `Bearer ${token}` } : {}, dispatcher });
  } catch (error) {
    throw new Error(`--join ${url}: cannot reach that node (${(error as Error).message})`);
  }
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`--join ${url}: the node answered ${response.statusCode}: ${text}`);
  return JSON.parse(text) as ClusterInfo;
}

/** The services a node runs as its own child processes ('redis-server', 'nats-server'), from its status. */
async function embeddedServicesOf(url: string, token: string | undefined, dispatcher: Agent | undefined): Promise<string[]> {
  try {
    const response = await request(new URL('rpc/node', url.endsWith('/') ? url : `${url}/`), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(5_000),
      dispatcher,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) return [];
    const status = JSON.parse(text) as { services?: { name: string }[] };
    return (status.services ?? []).map((s) => s.name);
  } catch {
    return [];
  }
}

/** Flags whose value is a secret, hidden from `ps` once parsed (process.title rewrites the command line). */
const SECRET_FLAGS = ['--token', '--ui-token', '--redis-url', '--nats-url'];

function hideSecretsOf(argv: readonly string[]): void {
  const shown = argv.map((arg, i) => {
    const previous = argv[i - 1];
    if (previous !== undefined && SECRET_FLAGS.includes(previous)) return previous === '--token' || previous === '--ui-token' ? '***' : redactUrl(arg);
    const inline = SECRET_FLAGS.find((flag) => arg.startsWith(`${flag}=`));
    if (inline) return `${inline}=${inline === '--token' || inline === '--ui-token' ? '***' : redactUrl(arg.slice(inline.length + 1))}`;
    return arg;
  });
  if (shown.some((arg, i) => arg !== argv[i])) process.title = shown.join(' ');
}

/** The host of a Redis or NATS url (NATS also takes a bare `host:port`). */
function hostOf(url: string): string {
  try {
    const redis = /^rediss?\+(cluster|sentinel):/.test(url) ? parseRedisUrl(url) : undefined;
    if (redis?.kind === 'cluster') return redis.nodes[0]?.host ?? '';
    if (redis?.kind === 'sentinel') return redis.sentinels[0]?.host ?? '';
    return new URL(url.includes('://') ? url : `nats://${url}`).hostname;
  } catch {
    return '';
  }
}
function tryOr<T>(run: () => T, fail: (message: string) => never): T {
  try {
    return run();
  } catch (error) {
    return fail((error as Error).message);
  }
}

/** The first line of a token file (without its line ending). */
