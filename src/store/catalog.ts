import picomatch from 'picomatch';
import type { DataFormat, DataInfo, DataState } from '../data-protocol.js';
import type { Keys } from './keys.js';
import type { Redis } from 'ioredis';
import type { ScriptKeys, StoreRedis } from './scripts.js';

/** The connection and key names the catalog works with (given by the Store). */
export interface CatalogConnection {
  readonly redis: StoreRedis;
  readonly keys: Keys;
  readonly scriptKeys: ScriptKeys;
  /** the connection holding the cluster's keys, for SCAN (on Redis Cluster, the master of the cluster's slot) */
  keyspace(): Redis;
}

export type ClaimOutcome =
  | { ok: true }
  /** the url holds data, or another write holds its claim */
  | { ok: false; state: 'ready' | 'starting'; node: string }
  /** `folder`, a folder of the url, is a data url (a file) */
  | { ok: false; state: 'under'; folder: string }
  /** other data urls lie under the url (it is a folder) */
  | { ok: false; state: 'folder' };

export interface CatalogEntry {
  state: DataState;
  holders: string[];
  /** set when the state is `ready` */
  info: DataInfo | null;
  /** the node holding the claim when the state is `starting` */
  writer?: string;
}

/**
 * The data catalog in Redis (architecture §4): `data:info:<url>` (hash: state, size, sha256, fmt,
 * created, node), `data:loc:<url>` (set of holder nodes), and the folder index `data:dirs`
 * (with `data:claims`, the writes in progress). Every change that must be
 * atomic is one Lua script (src/store/lua/*Data*.lua); locality routing reads the same keys.
 */
export class Catalog {
  constructor(private readonly store: CatalogConnection) {}

  private keys(url: string): [string, string] {
    const { keys } = this.store;
    return [keys.dataInfo(url), keys.dataLoc(url)];
  }

  /**
   * Claims a url for a new save; one claim per url at a time, none once it holds data, none
   * under a data url and none for a folder of data urls (a url is a file on every node).
   */
  async claim(url: string, token: string, node: string, ttlMs: number): Promise<ClaimOutcome> {
    const [status, detail] = await this.store.redis.claimData(...this.scriptKeys('claimData'), token, node, Date.now(), ttlMs, url);
    switch (status) {
      case 'ok':
        return { ok: true };
      case 'under':
        return { ok: false, state: 'under', folder: detail };
      case 'folder':
        return { ok: false, state: 'folder' };
      default:
        return { ok: false, state: status === 'ready' ? 'ready' : 'starting', node: detail ?? '' };
    }
  }

  async renew(url: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.store.redis.renewDataClaim(...this.scriptKeys('renewDataClaim'), token, ttlMs, url)) === 1;
  }

  /** A script's KEYS (src/store/scripts.ts): the base and the catalog's fixed keys; the url's and node's keys are built in the script. */
  private scriptKeys(name: 'claimData' | 'renewDataClaim' | 'commitData' | 'releaseDataClaim' | 'addDataHolder' | 'dropDataHolder'): string[] {
    return this.store.scriptKeys.keys(name);
  }

  async commit(url: string, token: string, info: DataInfo): Promise<boolean> {
    const result = await this.store.redis.commitData(...this.scriptKeys('commitData'), token, info.node, info.size, info.sha256, info.fmt, info.created, url);
    return result === 1;
  }

  async release(url: string, token: string): Promise<boolean> {
    return (await this.store.redis.releaseDataClaim(...this.scriptKeys('releaseDataClaim'), token, url)) === 1;
  }

  /** Adds a verified copy; false when the url is no longer ready data with that hash. */
  async addHolder(url: string, node: string, sha256: string): Promise<boolean> {
    return (await this.store.redis.addDataHolder(...this.scriptKeys('addDataHolder'), node, sha256, url)) === 1;
  }

  /** Removes a holder; the url is forgotten with its last holder. Returns the holders left. */
  async dropHolder(url: string, node: string): Promise<number> {
    return this.store.redis.dropDataHolder(...this.scriptKeys('dropDataHolder'), node, url);
  }

  /** Drops a down node's copy from the catalog and leaves it a note to remove its file when it starts. */
  async dropAbsentHolder(url: string, node: string): Promise<number> {
    await this.store.redis.sadd(this.store.keys.dataGone(node), url);
    return this.dropHolder(url, node);
  }

  /** The urls whose copies were deleted while `node` was down (the notes are consumed). */
  async takeGone(node: string): Promise<string[]> {
    const key = this.store.keys.dataGone(node);
    const [[, urls]] = (await this.store.redis.multi().smembers(key).del(key).exec()) as [[unknown, string[]], unknown];
    return urls;
  }

  /** Records that `node` holds a url in memory (the routing fact `data:mem:<node>`). */
  async memAdd(node: string, url: string, size: number, pinned: boolean): Promise<void> {
    await this.store.redis.hset(this.store.keys.dataMem(node), url, pinned ? `${size}:pinned` : String(size));
  }

  async memRemove(node: string, url: string): Promise<void> {
    await this.store.redis.hdel(this.store.keys.dataMem(node), url);
  }

  /** A node starting holds nothing in memory. */
  async memClear(node: string): Promise<void> {
    await this.store.redis.del(this.store.keys.dataMem(node));
  }

  /** Per url, the nodes (of `nodes`) holding it in memory, and whether pinned there (one round trip). */
  async memHolders(urls: readonly string[], nodes: readonly string[]): Promise<Map<string, Record<string, { pinned: boolean }>>> {
    const result = new Map<string, Record<string, { pinned: boolean }>>(urls.map((url) => [url, {}]));
    if (urls.length === 0 || nodes.length === 0) return result;
    const pipeline = this.store.redis.pipeline();
    for (const node of nodes) pipeline.hmget(this.store.keys.dataMem(node), ...urls);
    const rows = (await pipeline.exec()) ?? [];
    nodes.forEach((node, i) => {
      const values = (rows[i]?.[1] as (string | null)[] | undefined) ?? [];
      urls.forEach((url, j) => {
        const value = values[j];
        if (value) result.get(url)![node] = { pinned: value.endsWith(':pinned') };
      });
    });
    return result;
  }

  /** How many urls each node holds a copy of, and their bytes (one pipelined round trip). */
  async held(nodes: readonly string[]): Promise<Map<string, { urls: number; bytes: number }>> {
    const pipeline = this.store.redis.pipeline();
    for (const node of nodes) pipeline.hlen(this.store.keys.dataHeld(node));
    if (nodes.length > 0) pipeline.hmget(this.store.keys.dataHeldBytes, ...nodes);
    const rows = nodes.length ? ((await pipeline.exec()) ?? []) : [];
    const bytes = (rows[nodes.length]?.[1] as (string | null)[] | undefined) ?? [];
    return new Map(nodes.map((node, i) => [node, { urls: Number(rows[i][1] ?? 0), bytes: Number(bytes[i] ?? 0) }]));
  }

  /** State, holders and record of each url, in one pipelined round trip. */
  async lookup(urls: readonly string[]): Promise<Map<string, CatalogEntry>> {
    const pipeline = this.store.redis.pipeline();
    for (const url of urls) {
      const [info, loc] = this.keys(url);
      pipeline.hgetall(info);
      pipeline.smembers(loc);
    }
    const rows = urls.length ? ((await pipeline.exec()) ?? []) : [];
    const entries = new Map<string, CatalogEntry>();
    urls.forEach((url, i) => {
      const [infoError, hash] = rows[2 * i];
      const [locError, members] = rows[2 * i + 1];
      if (infoError) throw infoError;
      if (locError) throw locError;
      entries.set(url, toEntry(url, hash as Record<string, string>, (members as string[]).sort()));
    });
    return entries;
  }

  async entry(url: string): Promise<CatalogEntry> {
    return (await this.lookup([url])).get(url)!;
  }

  /**
   * Urls of ready data matching a glob (picomatch syntax: `data/*.csv`, `logs/**`). Walks the
   * catalog with SCAN (never KEYS), narrowed to the glob's literal prefix.
   */
  async search(glob: string): Promise<string[]> {
    const { redis } = this.store;
    const prefix = this.store.keys.dataInfo('');
    const scanned = picomatch.scan(glob);
    const matches = picomatch(glob, { dot: false });
    const literal = scanned.negated ? '' : scanned.isGlob ? scanned.base : glob;
    const pattern = `${escapeRedisGlob(prefix + literal)}*`;
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.store.keyspace().scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const url = key.slice(prefix.length);
        if (matches(url)) found.push(url);
      }
    } while (cursor !== '0');
    if (found.length === 0) return [];
    const states = await Promise.all(found.map((url) => redis.hget(this.keys(url)[0], 'state')));
    return found.filter((_, i) => states[i] === 'ready').sort();
  }
}

function toEntry(url: string, hash: Record<string, string>, holders: string[]): CatalogEntry {
  const state = hash.state;
  if (state === 'ready') {
    return {
      state,
      holders,
      info: {
        url,
        size: Number(hash.size),
        sha256: hash.sha256,
        fmt: hash.fmt as DataFormat,
        created: Number(hash.created),
        node: hash.node ?? '',
      },
    };
  }
  if (state === 'starting') return { state, holders: [], info: null, writer: hash.node };
  return { state: 'absent', holders: [], info: null };
}

/** Escapes the characters Redis MATCH patterns treat specially. */
function escapeRedisGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
