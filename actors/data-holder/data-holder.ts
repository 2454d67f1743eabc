import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Actor, type Reply } from '../../src/actor.js';
import type { NodeConfig } from '../../src/config.js';
import type { MemoryChange, ReadRange } from '../../src/data-backend.js';
export type { MemoryChange };
import type { CopyReport, DataInfo, DataInfoReport, PipelineReport } from '../../src/data-protocol.js';
import { checkDataUrl, dataUrlPath } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Registry } from '../../src/registry.js';
import type { Store } from '../../src/store/store.js';
import type { HolderContext } from './context.js';
import { Copies, type LocalCopy } from './copies.js';
import { DataDir } from './data-dir.js';
import { defaultMinFreeDisk, DiskGuard } from './disk-guard.js';
import { withoutPaths } from './fs-errors.js';
import { importPaths, reregisterAll, type ImportReport } from './imports.js';
import { defaultMemoryCache, MemoryTier, type MemoryStats, type SharedBytes } from './memory-tier.js';
import { Peers } from './peers.js';
import { defaultCacheMax, ReadCache } from './read-cache.js';
import { localChecksum, openData, readyEntry, type OpenedData } from './reads.js';
import { saveNew, type SaveRequest } from './writes.js';
import type { NodeMetrics } from '../node/metrics.js';

export type { DataInfo, LocalCopy, OpenedData, SaveRequest };

/**
 * Messages of the DataHolder: the node's data directory and its share of the catalog
 * (architecture §2, §6). Transfers run concurrently: a message starts one and its reply settles when
 * it is done, so a long upload never holds the mailbox.
 */
export type DataHolderMessage =
  /** a new save (write-once) */
  | { type: 'save'; request: SaveRequest; reply: Reply<DataInfo> }
  /** read a url (a range of it): this node's copy, else relayed from a holder unless `localOnly` */
  | { type: 'open'; url: string; range: ReadRange; localOnly: boolean; reply: Reply<OpenedData> }
  /** a local file with the url's data, fetched from a holder first when this node has none */
  | { type: 'localPath'; url: string; reply: Reply<LocalCopy> }
  | { type: 'info'; urls: string[]; reply: Reply<DataInfoReport> }
  | { type: 'search'; glob: string; reply: Reply<string[]> }
  /** remove the copy on `host` (or every copy); replies with the hosts whose copy went */
  | { type: 'delete'; url: string; host?: string; reply: Reply<string[]> }
  | { type: 'reduce'; urls: string[]; keep: number; reply: Reply<Record<string, string[]>> }
  /** sha256 of this node's copy, from its disk */
  | { type: 'checksum'; url: string; reply: Reply<string> }
  /** sha256 of every holder's copy */
  | { type: 'checksums'; url: string; reply: Reply<Record<string, string | null>> }
  | { type: 'pipeline'; url: string; reply: Reply<PipelineReport> }
  /** start a replication chain from this node's copy */
  | { type: 'push'; url: string; chain: string[]; reply: Reply<CopyReport> }
  /** one hop of a replication chain */
  | { type: 'receiveCopy'; url: string; source: Readable; chain: string[]; reply: Reply<CopyReport> }
  /** what this node holds (from the catalog) and what it received from peers */
  | { type: 'stats'; reply: Reply<DataHolderStats> }
  /** pin urls in memory on `nodes` (copying them there first), or on their live holders; `local`: on this node only */
  | { type: 'load'; urls: string[]; nodes?: string[]; local: boolean; reply: Reply<MemoryChange> }
  /** unpin urls on `nodes`, or on every live node; `local`: on this node only */
  | { type: 'unload'; urls: string[]; nodes?: string[]; local: boolean; reply: Reply<MemoryChange> }
  /** register files already in this node's data directory (`ks data import`) */
  | { type: 'import'; paths: string[]; prefix?: string; fmt?: string; reply: Reply<ImportReport> }
  /** register again every file of the data directory the catalog lost */
  | { type: 'reregister'; reply: Reply<ReregisterReport> };

export type ReregisterReport = Awaited<ReturnType<typeof reregisterAll>>;

export interface DataHolderStats {
  /** urls this node holds a copy of, and their bytes (the catalog's count) */
  urls: number;
  bytes: number;
  /** copies received from peers since the node started: fetched for tasks, or replication hops */
  received: { copies: number; bytes: number };
  /** reads this node served by relaying a holder's bytes, keeping no copy, since it started */
  relayed: { reads: number; bytes: number };
  /** the node-wide memory tier (`--memory-cache`): what it holds, pinned or not */
  memory: MemoryStats;
}

export interface DataHolderDeps {
  config: NodeConfig;
  store: Store;
  registry: Registry;
  log: Logger;
  metrics?: NodeMetrics;
  /** throws (a 503) when new data may not be saved now (the Redis memory guard) */
  admitSave?: () => void;
}

/** How long `stop()` waits for transfers in progress to finish or fail. */
const STOP_GRACE_MS = 5_000;

/**
 * Keeps this node's data: the data directory, writes, reads, peer copies, the disk guard.
 *
 * Mailbox: concurrent. Each message starts its operation beside the mailbox (`answer`), so a long transfer blocks nothing.
 */
export class DataHolder extends Actor<DataHolderMessage> {
  private ctx?: HolderContext;
  private readonly relayed = { reads: 0, bytes: 0 };
  private copies?: Copies;
  private readonly inFlight = new Set<Promise<unknown>>();
  private tier?: MemoryTier;
  /** worker threads' ports, told which decoded objects to drop */
  private readonly threadEvictions = new Map<number, (urls: string[]) => void>();
  private stopHealingOnDataLoss?: () => void;
  private healing?: Promise<unknown>;
  private admitSave: () => void = () => undefined;

  constructor() {
    super('data-holder');
  }

  /** Opens the data directory (clearing temp files a previous run left) and sets the disk guard. */
  async start(deps: DataHolderDeps): Promise<void> {
    const { config, store, registry, log } = deps;
    if (deps.admitSave) this.admitSave = deps.admitSave;
    const dir = await DataDir.open(config.datadir);
    const minFree = config.minFreeDisk ?? (await defaultMinFreeDisk(dir.root));
    this.ctx = {
      config,
      self: config.nodeName,
      catalog: store.catalog,
      dir,
      guard: new DiskGuard(dir.root, minFree),
      peers: new Peers(registry, config.token, config.nodeName, config.tlsCa ? readFileSync(config.tlsCa, 'utf8') : undefined),
      log,
      metrics: deps.metrics,
    };
    const cacheMax = config.cacheMax ?? (await defaultCacheMax(dir.root));
    this.copies = new Copies(this.ctx, new ReadCache(dir.cacheDir, cacheMax));
    const ctx = this.ctx;
    const memoryCache = config.memoryCache ?? defaultMemoryCache();
    const fact = (what: string, write: () => Promise<void>) => write().catch((error: unknown) => log.warn({ err: error }, `could not ${what} a memory fact`));
    this.tier = new MemoryTier(memoryCache, ctx.self, {
      add: (url, size, pinned) => void fact('record', () => ctx.catalog.memAdd(ctx.self, url, size, pinned)),
      remove: (url) => void fact('remove', () => ctx.catalog.memRemove(ctx.self, url)),
    }, (thread, urls) => this.threadEvictions.get(thread)?.(urls));
    await ctx.catalog.memClear(ctx.self);
    // The catalog heals: at start, and whenever Redis lost its data (the cluster's epoch key).
    await this.removeGone();
    this.heal('start');
    this.stopHealingOnDataLoss = store.onDataLoss(() => {
      this.tier?.advertiseAll();
      this.heal('Redis lost its data');
    });
    log.debug({ datadir: dir.root, minFreeDisk: minFree, cacheMax, memoryCache, readOnly: config.readOnly }, 'data holder started');
  }

  /**
   * Copies deleted from the catalog while this node was down are removed from its disk before
   * the directory is registered again, so a delete never comes back.
   */
  private async removeGone(): Promise<void> {
    const ctx = this.context();
    const gone = await ctx.catalog.takeGone(ctx.self);
    if (gone.length === 0) return;
    const entries = await ctx.catalog.lookup(gone);
    for (const url of gone) {
      if (entries.get(url)?.holders.includes(ctx.self)) continue;
      await ctx.dir.remove(url).catch((error: unknown) => ctx.log.warn({ url, err: error }, 'could not remove a copy deleted while the node was down'));
    }
    ctx.log.info({ urls: gone.length }, 'removed copies deleted while this node was down');
  }

  /** Runs `reregisterAll()` in the background (one at a time), logging what it found. */
  private heal(why: string): void {
    if (this.healing) return;
    this.healing = this.reregisterAll()
      .then((report) => {
        if (report.registered + report.added + report.conflicts.length > 0) this.ctx?.log.info({ ...report, why }, 'data directory registered again');
      }, (error: unknown) => this.ctx?.log.warn({ err: error, why }, 'could not register the data directory again'))
      .finally(() => (this.healing = undefined));
  }

  /**
   * Registers again every file of the data directory whose catalog entry is missing (or does
   * not list this node); the same conflict rule as `ks data import`. Called at start and when
   * Redis lost its data (`Store.onDataLoss`, the epoch key checked with every heartbeat).
   */
  async reregisterAll(): Promise<ReregisterReport> {
    return reregisterAll(this.context());
  }

  /** The memory tier (worker threads' reads go straight to it: it is synchronous bookkeeping). */
  get memory(): MemoryTier {
    if (!this.tier) throw new KsError('unavailable', 'the data holder is not started');
    return this.tier;
  }

  /** A task's read through the memory tier: the url's bytes, shared; held by (`thread`, `job`) until the job ends. */
  async memoryRead(url: string, thread: number, job: string): Promise<SharedBytes> {
    checkDataUrl(url);
    const copies = this.copies!;
    return this.memory.read(url, thread, job, () => copies.localCopy(url));
  }

  /** A worker thread's port, told which decoded objects to drop when the tier evicts them. */
  addThread(thread: number, evict: (urls: string[]) => void): void {
    this.threadEvictions.set(thread, evict);
  }

  removeThread(thread: number): void {
    this.threadEvictions.delete(thread);
    this.tier?.releaseThread(thread);
  }

  async stop(): Promise<void> {
    this.markStopped();
    this.stopHealingOnDataLoss?.();
    if (this.inFlight.size > 0) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref())]);
    }
    await this.ctx?.peers.close();
  }

  protected receive(message: DataHolderMessage): void {
    const ctx = this.context();
    const copies = this.copies!;
    switch (message.type) {
      case 'save':
        return this.answer(message.reply, () => {
          this.admitSave();
          return saveNew(ctx, message.request);
        }, message.request.url);
      case 'open':
        return this.answer(message.reply, () => openData(ctx, checkDataUrl(message.url), message.range, message.localOnly, this.relayed), message.url);
      case 'localPath':
        return this.answer(message.reply, () => copies.localCopy(checkDataUrl(message.url)), message.url);
      case 'info':
        return this.answer(message.reply, () => this.info(message.urls));
      case 'search':
        return this.answer(message.reply, () => ctx.catalog.search(message.glob));
      case 'delete':
        return this.answer(message.reply, () => this.delete(checkDataUrl(message.url), message.host), message.url);
      case 'reduce':
        return this.answer(message.reply, () => this.reduce(message.urls, message.keep));
      case 'checksum':
        return this.answer(message.reply, () => localChecksum(ctx, checkDataUrl(message.url)), message.url);
      case 'checksums':
        return this.answer(message.reply, () => this.checksums(checkDataUrl(message.url)), message.url);
      case 'pipeline':
        return this.answer(message.reply, () => copies.pipeline(checkDataUrl(message.url)), message.url);
      case 'push':
        return this.answer(message.reply, () => copies.push(checkDataUrl(message.url), message.chain), message.url);
      case 'receiveCopy':
        return this.answer(message.reply, () => copies.receiveCopy(checkDataUrl(message.url), message.source, message.chain), message.url);
      case 'stats':
        return this.answer(message.reply, async () => {
          const held = (await ctx.catalog.held([ctx.self])).get(ctx.self)!;
          return { ...held, received: { ...copies.received }, relayed: { ...this.relayed }, memory: this.memory.stats() };
        });
      case 'load':
        return this.answer(message.reply, () => this.changeMemory('load', message.urls, message.nodes, message.local));
      case 'unload':
        return this.answer(message.reply, () => this.changeMemory('unload', message.urls, message.nodes, message.local));
      case 'import':
        return this.answer(message.reply, () => importPaths(ctx, message.paths, { prefix: message.prefix, fmt: message.fmt }));
      case 'reregister':
        return this.answer(message.reply, () => this.reregisterAll());
    }
  }

  /**
   * Runs an operation beside the mailbox, settling its reply when it ends. A filesystem error
   * is answered in terms of the `url`, without the node's paths.
   */
  private answer<T>(reply: Reply<T>, run: () => Promise<T>, url?: string): void {
    const running = Promise.resolve().then(run).catch((error: unknown) => {
      throw withoutPaths(error, url);
    });
    this.inFlight.add(running);
    running.then(reply.resolve, reply.reject).finally(() => this.inFlight.delete(running));
  }

  private context(): HolderContext {
    if (!this.ctx) throw new KsError('unavailable', 'the data holder is not started');
    return this.ctx;
  }

  private async info(urls: string[]): Promise<DataInfoReport> {
    const ctx = this.context();
    for (const url of urls) checkDataUrl(url);
    const [entries, live] = await Promise.all([ctx.catalog.lookup(urls), ctx.peers.live()]);
    const report: DataInfoReport = { hosts: Object.fromEntries(live.map((n) => [n.name, n.url])), data: {} };
    const memory = await ctx.catalog.memHolders(urls, live.map((n) => n.name));
    for (const [url, entry] of entries) {
      report.data[url] = { state: entry.state, holders: entry.holders, info: entry.info };
      const inMemory = memory.get(url);
      if (inMemory && Object.keys(inMemory).length > 0) report.data[url].memory = inMemory;
    }
    return report;
  }

  /**
   * Removes copies: this node's own directly (first from the catalog, so nobody is sent here
   * any more, then from disk), a live peer's through that peer, and a dead node's from the
   * catalog only. The url is forgotten with its last copy.
   */
  private async delete(url: string, host: string | undefined): Promise<string[]> {
    const ctx = this.context();
    const entry = await readyEntry(ctx, url);
    if (host !== undefined && !entry.holders.includes(host)) {
      throw new KsError('not_found', `node ${host} holds no copy of ${JSON.stringify(url)} (holders: ${entry.holders.join(', ')})`);
    }
    const targets = host === undefined ? entry.holders : [host];
    const live = await ctx.peers.liveByName();
    const deleted: string[] = [];
    for (const target of targets) {
      const node = live.get(target);
      if (target === ctx.self) {
        await ctx.catalog.dropHolder(url, ctx.self);
        this.tier?.drop(url);
        await ctx.dir.remove(url);
      } else if (node) {
        await ctx.peers.transport(node).requestCbor('DELETE', `rpc/data/${dataUrlPath(url)}?host=${encodeURIComponent(target)}`);
      } else {
        await ctx.catalog.dropAbsentHolder(url, target);
      }
      deleted.push(target);
    }
    return deleted;
  }

  /** Keeps `keep` copies of each url (live holders first, by name) and deletes the others. */
  private async reduce(urls: string[], keep: number): Promise<Record<string, string[]>> {
    if (!Number.isSafeInteger(keep) || keep < 1) throw new KsError('bad_request', `keep must be an integer of at least 1, not ${keep}`);
    const ctx = this.context();
    for (const url of urls) checkDataUrl(url);
    const live = await ctx.peers.liveByName();
    const entries = await ctx.catalog.lookup(urls);
    const deleted: Record<string, string[]> = {};
    for (const url of urls) {
      const holders = entries.get(url)!.holders;
      const ordered = [...holders.filter((h) => live.has(h)), ...holders.filter((h) => !live.has(h))];
      deleted[url] = [];
      for (const host of ordered.slice(keep)) deleted[url].push(...(await this.delete(url, host)));
    }
    return deleted;
  }

  /**
   * Pins (`load`) or unpins (`unload`) urls in memory. Loads go to `nodes` (each copies the data
   * first if it lacks it, like pipeline()) or to every live holder; unloads to `nodes` or every
   * live node. With `local`, on this node only. A node that cannot pin (past its budget) fails the whole answer.
   */
  private async changeMemory(change: 'load' | 'unload', urls: string[], nodes: string[] | undefined, local: boolean): Promise<MemoryChange> {
    const ctx = this.context();
    for (const url of urls) checkDataUrl(url);
    if (local) {
      const done: string[] = [];
      for (const url of urls) {
        if (change === 'unload') {
          if (this.memory.unload(url)) done.push(url);
          continue;
        }
        if (!this.memory.enabled) throw new KsError('insufficient_storage', `node ${ctx.self} has no memory cache (it was started with --memory-cache 0): it cannot load ${JSON.stringify(url)}`);
        await this.memory.load(url, () => this.copies!.localCopy(url));
        done.push(url);
      }
      return { nodes: { [ctx.self]: done } };
    }
    const live = await ctx.peers.liveByName();
    for (const node of nodes ?? []) if (!live.has(node)) throw new KsError('unavailable', `node ${node} is not live: it cannot ${change} data`);
    const perNode = new Map<string, string[]>();
    const entries = await ctx.catalog.lookup(urls);
    for (const url of urls) {
      const entry = entries.get(url)!;
      if (change === 'load' && entry.state !== 'ready') throw new KsError('not_found', `no data at url ${JSON.stringify(url)}`);
      const targets = nodes ?? (change === 'load' ? entry.holders.filter((h) => live.has(h)) : [...live.keys()]);
      if (change === 'load' && targets.length === 0) throw new KsError('unavailable', `no live node holds ${JSON.stringify(url)}`);
      for (const node of targets) perNode.set(node, [...(perNode.get(node) ?? []), url]);
    }
    const answers = await Promise.allSettled([...perNode].map(async ([node, nodeUrls]) => {
      if (node === ctx.self) return this.changeMemory(change, nodeUrls, undefined, true);
      return ctx.peers.transport(live.get(node)!).requestCbor<MemoryChange>('POST', `rpc/data-${change}`, { urls: nodeUrls, local: true });
    }));
    const result: MemoryChange = { nodes: {} };
    const failures: Error[] = [];
    for (const answer of answers) {
      if (answer.status === 'fulfilled') Object.assign(result.nodes, answer.value.nodes);
      else failures.push(answer.reason as Error);
    }
    if (failures.length > 0) {
      const first = failures[0];
      throw first instanceof KsError ? new KsError(first.code, failures.map((f) => f.message).join('; ')) : first;
    }
    return result;
  }

  private async checksums(url: string): Promise<Record<string, string | null>> {
    const ctx = this.context();
    const entry = await readyEntry(ctx, url);
    const live = await ctx.peers.liveByName();
    const sums = await Promise.all(entry.holders.map(async (holder): Promise<string | null> => {
      try {
        if (holder === ctx.self) return await localChecksum(ctx, url);
        const node = live.get(holder);
        if (!node) return null;
        const { sha256 } = await ctx.peers.transport(node).requestCbor<{ sha256: string }>('GET', `rpc/data-checksum/${dataUrlPath(url)}`);
        return sha256;
      } catch (error) {
        ctx.log.warn({ url, holder, err: error }, 'a holder could not compute its checksum');
        return null;
      }
    }));
    return Object.fromEntries(entry.holders.map((holder, i) => [holder, sums[i]]));
  }
}
