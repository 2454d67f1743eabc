import type { Readable } from 'node:stream';
import { Actor, type Reply } from '../../src/actor.js';
import type { NodeConfig } from '../../src/config.js';
import type { ReadRange } from '../../src/data-backend.js';
import type { CopyReport, DataInfo, DataInfoReport, PipelineReport } from '../../src/data-protocol.js';
import { checkDataUrl, dataUrlPath } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Registry } from '../../src/registry.js';
import { Catalog } from '../../src/store/catalog.js';
import type { Store } from '../../src/store/store.js';
import type { HolderContext } from './context.js';
import { Copies, type LocalCopy } from './copies.js';
import { DataDir } from './data-dir.js';
import { defaultMinFreeDisk, DiskGuard } from './disk-guard.js';
import { withoutPaths } from './fs-errors.js';
import { Peers } from './peers.js';
import { defaultCacheMax, ReadCache } from './read-cache.js';
import { localChecksum, openData, readyEntry, type OpenedData } from './reads.js';
import { saveNew, type SaveRequest } from './writes.js';
import type { NodeMetrics } from '../node/metrics.js';

export type { DataInfo, LocalCopy, OpenedData, SaveRequest };

/**
 * Messages of the DataHolder: the node's data directory and its share of the catalog
 * (DESIGN §2, §6). Transfers run concurrently: a message starts one and its reply settles when
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
  | { type: 'stats'; reply: Reply<DataHolderStats> };

export interface DataHolderStats {
  /** urls this node holds a copy of, and their bytes (the catalog's count) */
  urls: number;
  bytes: number;
  /** copies received from peers since the node started: fetched for tasks, or replication hops */
  received: { copies: number; bytes: number };
  /** reads this node served by relaying a holder's bytes, keeping no copy, since it started */
  relayed: { reads: number; bytes: number };
}

export interface DataHolderDeps {
  config: NodeConfig;
  store: Store;
  registry: Registry;
  log: Logger;
  metrics?: NodeMetrics;
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

  constructor() {
    super('data-holder');
  }

  /** Opens the data directory (clearing temp files a previous run left) and sets the disk guard. */
  async start(deps: DataHolderDeps): Promise<void> {
    const { config, store, registry, log } = deps;
    const dir = await DataDir.open(config.datadir);
    const minFree = config.minFreeDisk ?? (await defaultMinFreeDisk(dir.root));
    this.ctx = {
      config,
      self: config.nodeName,
      catalog: new Catalog(store),
      dir,
      guard: new DiskGuard(dir.root, minFree),
      peers: new Peers(registry, config.token, config.nodeName),
      log,
      metrics: deps.metrics,
    };
    const cacheMax = config.cacheMax ?? (await defaultCacheMax(dir.root));
    this.copies = new Copies(this.ctx, new ReadCache(dir.cacheDir, cacheMax));
    log.debug({ datadir: dir.root, minFreeDisk: minFree, cacheMax, readOnly: config.readOnly }, 'data holder started');
  }

  async stop(): Promise<void> {
    this.markStopped();
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
        return this.answer(message.reply, () => saveNew(ctx, message.request), message.request.url);
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
          return { ...held, received: { ...copies.received }, relayed: { ...this.relayed } };
        });
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
    for (const [url, entry] of entries) report.data[url] = { state: entry.state, holders: entry.holders, info: entry.info };
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
        await ctx.dir.remove(url);
      } else if (node) {
        await ctx.peers.transport(node).requestCbor('DELETE', `rpc/data/${dataUrlPath(url)}?host=${encodeURIComponent(target)}`);
      } else {
        await ctx.catalog.dropHolder(url, target);
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
