import { PassThrough, type Readable } from 'node:stream';
import { DATA_HEADERS, type CopyReport, type DataFormat, type DataInfo, type PipelineReport } from '../../src/data-protocol.js';
import { dataUrlPath } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { NodeInfo } from '../../src/protocol.js';
import type { HolderContext } from './context.js';
import type { DiskReservation } from './disk-guard.js';
import { formatNotes } from './imports.js';
import { receiveToFile } from './receive-file.js';
import type { ReadCache } from './read-cache.js';
import { localChecksum, readyEntry } from './reads.js';

/** A file on this node holding a url's data. */
export interface LocalCopy {
  path: string;
  fmt: DataFormat;
  size: number;
  sha256: string;
}

/**
 * Copies of existing data between nodes (architecture §6). A copy is never a new save: it is
 * checked against the catalog's sha256 before it is kept, and only then is the node added to
 * the url's holders.
 */
export class Copies {
  /** one fetch per url at a time on this node */
  private readonly fetching = new Map<string, Promise<LocalCopy>>();
  /** copies received from peers since the node started (task fetches and replication hops) */
  readonly received = { copies: 0, bytes: 0 };

  constructor(private readonly ctx: HolderContext, private readonly cache: ReadCache) {}

  /**
   * A local file with the url's data, for a task: this node's copy, or one fetched from a
   * holder now (streamed, verified, kept and registered). A read-only node keeps the fetched
   * copy in its read cache (`.ks/cache/`, bounded) for its own tasks only, and never registers it.
   */
  async localCopy(url: string): Promise<LocalCopy> {
    let pending = this.fetching.get(url);
    if (!pending) {
      pending = this.ensureLocal(url).finally(() => this.fetching.delete(url));
      this.fetching.set(url, pending);
    }
    return pending;
  }

  private async ensureLocal(url: string): Promise<LocalCopy> {
    const { ctx } = this;
    const entry = await readyEntry(ctx, url);
    const { info } = entry;
    const copy = (path: string): LocalCopy => ({ path, fmt: info.fmt, size: info.size, sha256: info.sha256 });

    if (ctx.config.readOnly) {
      const cached = await this.cache.get(info.sha256);
      if (cached) return copy(cached);
      return copy(await this.cache.add(await this.fetchVerified(url, info, entry.holders), info.sha256));
    }

    const existing = await ctx.dir.existing(url);
    if (existing && entry.holders.includes(ctx.self)) return copy(existing);
    if (existing) {
      // A file nobody registered (an interrupted copy, or data of a url deleted while this
      // node was away): keep it only if it is the catalog's data.
      if ((await localChecksum(ctx, url)) === info.sha256) return this.register(url, info, existing);
      await ctx.dir.remove(url);
    } else if (entry.holders.includes(ctx.self)) {
      ctx.log.warn({ url }, 'the catalog lists this node as a holder but its file is missing; fetching it again');
      if ((await ctx.catalog.dropHolder(url, ctx.self)) === 0) {
        throw new KsError('not_found', `the only copy of ${JSON.stringify(url)} (on node ${ctx.self}) is gone from its disk`);
      }
    }
    const temp = await this.fetchVerified(url, info, entry.holders);
    let path: string;
    try {
      path = await ctx.dir.place(temp, url);
    } catch (error) {
      await ctx.dir.removeTemp(temp);
      throw error;
    }
    return this.register(url, info, path);
  }

  private count(bytes: number): void {
    this.received.copies++;
    this.received.bytes += bytes;
  }

  private async register(url: string, info: DataInfo, path: string): Promise<LocalCopy> {
    if (!(await this.ctx.catalog.addHolder(url, this.ctx.self, info.sha256))) {
      await this.ctx.dir.remove(url);
      throw new KsError('not_found', `data url ${JSON.stringify(url)} was deleted while it was being copied`);
    }
    await formatNotes(this.ctx).note(info.sha256, info.fmt);
    return { path, fmt: info.fmt, size: info.size, sha256: info.sha256 };
  }

  /**
   * Streams the url from its live holders (in name order) into a temp file until one copy
   * matches the catalog's size and sha256. A corrupt copy is dropped, never kept.
   */
  private async fetchVerified(url: string, info: DataInfo, holders: string[]): Promise<string> {
    const { ctx } = this;
    const live = await ctx.peers.liveByName();
    const candidates = holders.filter((h) => h !== ctx.self && live.has(h));
    if (candidates.length === 0) {
      throw new KsError('unavailable', `no live node holds ${JSON.stringify(url)} (holders: ${holders.join(', ') || 'none'})`);
    }
    const reservation = await ctx.guard.reserve(info.size); // a 507 here is the answer, whichever holder we asked
    const problems: string[] = [];
    let corrupt = 0;
    let kept = false;
    try {
      for (const holder of candidates) {
        const temp = ctx.dir.tempPath();
        let body: Readable | undefined;
        try {
          const response = await ctx.peers.transport(live.get(holder)!).requestRaw('GET', `rpc/data/${dataUrlPath(url)}?local=true`);
          body = response.body;
          const check = (written: number) => {
            reservation.check(written);
            if (written > info.size) throw new KsError('corrupt_data', `the copy on node ${holder} is corrupt: it is longer than the catalog's ${info.size} bytes`);
          };
          const received = await receiveToFile(body, temp, { check });
          this.count(received.size);
          if (received.size !== info.size || received.sha256 !== info.sha256) {
            throw new KsError('corrupt_data', `the copy on node ${holder} is corrupt: ${received.size} bytes with sha256 ${received.sha256}, but the catalog says ${info.size} bytes with sha256 ${info.sha256}`);
          }
          ctx.metrics?.dataCopied(holder, ctx.self, received.size);
          kept = true;
          return temp;
        } catch (error) {
          if (error instanceof KsError && error.code === 'corrupt_data') corrupt++;
          body?.on('error', () => undefined).destroy();
          await ctx.dir.removeTemp(temp);
          reservation.rewind();
          problems.push((error as Error).message);
          ctx.log.warn({ url, holder, err: error }, 'could not copy data from a holder');
        }
      }
    } finally {
      reservation.end(kept);
    }
    const code = corrupt === candidates.length ? 'corrupt_data' : 'unavailable';
    throw new KsError(code, `no good copy of ${JSON.stringify(url)} could be fetched (hash check failed or holder unreachable): ${problems.join('; ')}`);
  }

  /**
   * One hop of a replication chain: stores the copy streaming in, and at the same time
   * streams it on to the next node of `chain`, which does the same with the rest.
   */
  async receiveCopy(url: string, source: Readable, chain: string[]): Promise<CopyReport> {
    const { ctx } = this;
    if (ctx.config.readOnly) throw new KsError('bad_request', `node ${ctx.self} is read-only: it stores no copies`);
    const entry = await readyEntry(ctx, url);
    const { info } = entry;
    const report: CopyReport = { copied: [], failed: {} };
    const live = await ctx.peers.liveByName();

    const [next, ...rest] = chain;
    let forward: PassThrough | undefined;
    let downstream: Promise<CopyReport> | undefined;
    const nextNode = next === undefined ? undefined : live.get(next);
    if (next !== undefined && !nextNode) report.failed[next] = `node ${next} is not live`;
    if (nextNode) {
      forward = new PassThrough({ highWaterMark: 1 << 20 });
      const stream = forward;
      downstream = this.sendCopy(nextNode, url, info.size, stream, rest);
      downstream.catch((error: unknown) => stream.destroy(error as Error));
    }

    const held = entry.holders.includes(ctx.self) && (await ctx.dir.existing(url)) !== null;
    const temp = ctx.dir.tempPath();
    let reservation: DiskReservation | undefined;
    let kept = false;
    try {
      reservation = held ? undefined : await ctx.guard.reserve(info.size);
      const received = await receiveToFile(source, temp, { check: reservation?.check, expectedSize: info.size, forward });
      this.count(received.size);
      if (received.sha256 !== info.sha256) {
        throw new KsError('corrupt_data', `the copy of ${JSON.stringify(url)} that reached node ${ctx.self} has sha256 ${received.sha256}, not the catalog's ${info.sha256}`);
      }
      if (!held) {
        try {
          await ctx.dir.place(temp, url);
        } catch (error) {
          if (!(error instanceof KsError && error.code === 'conflict') || (await localChecksum(ctx, url)) !== info.sha256) throw error;
        }
        await this.register(url, info, ctx.dir.pathOf(url));
      }
      report.copied.push(ctx.self);
      kept = true;
    } catch (error) {
      forward?.destroy(error as Error);
      throw error;
    } finally {
      await ctx.dir.removeTemp(temp);
      reservation?.end(kept);
    }

    if (downstream && next !== undefined) {
      try {
        const down = await downstream;
        report.copied.push(...down.copied);
        Object.assign(report.failed, down.failed);
      } catch (error) {
        report.failed[next] = (error as Error).message;
      }
    }
    return report;
  }

  /** The first hop: this holder streams its copy down `chain`. */
  async push(url: string, chain: string[]): Promise<CopyReport> {
    const { ctx } = this;
    const entry = await readyEntry(ctx, url);
    const opened = entry.holders.includes(ctx.self) ? await ctx.dir.openForRead(url) : null;
    if (!opened) throw new KsError('not_found', `node ${ctx.self} holds no copy of ${JSON.stringify(url)} to push`);
    const [next, ...rest] = chain;
    const node = next === undefined ? undefined : (await ctx.peers.liveByName()).get(next);
    if (!node) {
      await opened.handle.close();
      return { copied: [], failed: next === undefined ? {} : { [next]: `node ${next} is not live` } };
    }
    const stream = opened.handle.createReadStream({ highWaterMark: 1 << 20 });
    try {
      return await this.sendCopy(node, url, opened.size, stream, rest);
    } catch (error) {
      stream.destroy();
      return { copied: [], failed: { [next!]: (error as Error).message } };
    }
  }

  /**
   * `pipeline()`: replicates a url to every live writable node that lacks it, as a chain
   * (holder → A → B → ...), each node storing its copy while streaming it on. A node that
   * fails is left out and the chain is run again for the nodes after it.
   */
  async pipeline(url: string): Promise<PipelineReport> {
    const { ctx } = this;
    const failed: Record<string, string> = {};
    for (let round = 0; ; round++) {
      const entry = await readyEntry(ctx, url);
      const live = await ctx.peers.live();
      const holders = new Set(entry.holders);
      const sources = live.filter((n) => holders.has(n.name));
      if (sources.length === 0) throw new KsError('unavailable', `no live node holds ${JSON.stringify(url)}`);
      const targets = live.filter((n) => !n.readOnly && !holders.has(n.name) && !(n.name in failed)).map((n) => n.name);
      if (targets.length === 0 || round > live.length) return { holders: entry.holders, failed };
      const source = sources.find((n) => n.name === ctx.self) ?? sources[0];
      const report = source.name === ctx.self
        ? await this.push(url, targets)
        : await ctx.peers.transport(source).requestCbor<CopyReport>('POST', `rpc/data-push/${dataUrlPath(url)}`, { chain: targets });
      Object.assign(failed, report.failed);
      if (report.copied.length === 0 && Object.keys(report.failed).length === 0) {
        return { holders: entry.holders, failed };
      }
    }
  }

  private async sendCopy(node: NodeInfo, url: string, size: number, body: Readable, chain: string[]): Promise<CopyReport> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
    if (chain.length > 0) headers[DATA_HEADERS.chain] = chain.join(',');
    const response = await this.ctx.peers.transport(node).requestRaw('PUT', `rpc/data-copy/${dataUrlPath(url)}`, { body, headers });
    const report = (await response.body.json()) as CopyReport;
    if (report.copied.includes(node.name)) this.ctx.metrics?.dataCopied(this.ctx.self, node.name, size);
    return report;
  }
}
