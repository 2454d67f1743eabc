/**
 * Which Redis a cluster uses, named by one url (so `--join` hands it on unchanged):
 *
 * - `redis://[user:pass@]host:port[/db]` (or `rediss://`): one Redis, the fast path;
 * - `redis+cluster://[user:pass@]host:port,host:port` (or `rediss+cluster://`): a Redis Cluster,
 *   the listed nodes being where discovery starts;
 * - `redis+sentinel://[user:pass@]host:port,host:port/<master>[?db=N&sentinelPassword=...]`
 *   (or `rediss+sentinel://`): the master the sentinels name, followed across failovers.
 *
 * Credentials in the url are the data nodes' (`AUTH`); `sentinelUsername`/`sentinelPassword`
 * query parameters are the sentinels' own, when they have any.
 */
export interface RedisEndpoint {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | ({ kind: 'cluster'; nodes: RedisEndpoint[] } & Credentials)
  | ({ kind: 'sentinel'; sentinels: RedisEndpoint[]; master: string; db: number; sentinelUsername?: string; sentinelPassword?: string } & Credentials);

const MULTI_HOST = /^(rediss?)\+(cluster|sentinel):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/;

export function parseRedisUrl(url: string): RedisTarget {
  const match = MULTI_HOST.exec(url);
  if (!match) {
    if (/^[a-z+]+:\/\//i.test(url) && !/^rediss?:\/\//i.test(url)) {
      throw new Error(`${schemeOf(url)}: is not a Redis url: use redis://, rediss://, redis+cluster:// or redis+sentinel://`);
    }
    return { kind: 'single', url };
  }
  const [, scheme, kind, auth, hosts, path, query] = match;
  const credentials: Credentials = { tls: scheme === 'rediss', ...userInfo(auth) };
  const endpoints = hosts.split(',').map((host) => endpoint(host, kind === 'sentinel' ? 26379 : 6379));
  if (kind === 'cluster') return { kind: 'cluster', nodes: endpoints, ...credentials };
  const master = decodeURIComponent(path ?? '');
  if (!master) throw new Error(`${schemeOf(url)}: names no master: add /<master name> (as the sentinels know it) after the sentinels' addresses`);
  const params = new URLSearchParams(query ?? '');
  return {
    kind: 'sentinel',
    sentinels: endpoints,
    master,
    db: Number(params.get('db') ?? 0),
    sentinelUsername: params.get('sentinelUsername') ?? undefined,
    sentinelPassword: params.get('sentinelPassword') ?? undefined,
    ...credentials,
  };
}

/**
 * The one url of `ks start`'s Redis flags: `--redis-cluster` turns `--redis-url`'s host(s)
 * into a `redis+cluster://` url; `--redis-sentinels h:p,h:p --redis-master NAME` make a
 * `redis+sentinel://` url (with the credentials of `--redis-url`, if given).
 */
export function redisUrlFromFlags(flags: { url?: string; cluster?: boolean; sentinels?: string; master?: string }): string | undefined {
  const { url, cluster, sentinels, master } = flags;
  if (sentinels !== undefined || master !== undefined) {
    if (!sentinels || !master) throw new Error('--redis-sentinels and --redis-master go together: the sentinels\' addresses and the name of the master they watch');
    if (cluster) throw new Error('--redis-cluster and --redis-sentinels exclude each other');
    const base = url ? /^(rediss?):\/\/(?:([^@/]*)@)?/.exec(url) : null;
    if (url && !base) throw new Error('with --redis-sentinels, --redis-url may only give credentials and TLS: redis://user:pass@ or rediss://');
    return `${base?.[1] ?? 'redis'}+sentinel://${base?.[2] ? `${base[2]}@` : ''}${sentinels}/${encodeURIComponent(master)}`;
  }
  if (cluster) {
    if (!url) throw new Error('--redis-cluster needs --redis-url naming one or more nodes of the Redis Cluster');
    if (/^rediss?\+cluster:\/\//.test(url)) return url;
    const plain = /^(rediss?):\/\/(.*)$/.exec(url);
    if (!plain) throw new Error(`--redis-cluster: ${schemeOf(url)}: is not a redis:// url`);
    return `${plain[1]}+cluster://${plain[2].replace(/\/\d*$/, '')}`;
  }
  return url;
}

/** The url without credentials, for logs and status: `host:port` (several, comma-separated) and the kind. */
export function describeRedis(url: string): string {
  try {
    const target = parseRedisUrl(url);
    if (target.kind === 'cluster') return `Redis Cluster ${target.nodes.map(address).join(',')}`;
    if (target.kind === 'sentinel') return `Redis master "${target.master}" of sentinels ${target.sentinels.map(address).join(',')}`;
    const parsed = new URL(url);
    return `${parsed.hostname || '127.0.0.1'}:${parsed.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}

function address(e: RedisEndpoint): string {
  return `${e.host}:${e.port}`;
}

function schemeOf(url: string): string {
  return url.slice(0, Math.max(0, url.indexOf(':')));
}

function userInfo(auth: string | undefined): { username?: string; password?: string } {
  if (!auth) return {};
  const colon = auth.indexOf(':');
  const user = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
  const password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
  // `redis://:pass@` (no user) is the classic AUTH <password>; `redis://pass@` too, as redis-cli reads it.
  if (password === undefined) return { password: user };
  return { username: user || undefined, password };
}

function endpoint(text: string, defaultPort: number): RedisEndpoint {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: Number(bracketed[2] ?? defaultPort) };
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { host: text, port: defaultPort };
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${JSON.stringify(text)} is not host:port`);
  return { host: text.slice(0, colon), port };
}
