import { Readable, Transform } from 'node:stream';
import type { ReadRange } from '../../src/data-backend.js';
import { DATA_HEADERS, type DataInfo } from '../../src/data-protocol.js';
import { dataUrlPath } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { CatalogEntry } from '../../src/store/catalog.js';
import type { HolderContext } from './context.js';
import { hashFile } from './receive-file.js';

/** A read in progress: the bytes of the range asked for, and the catalog's record of the whole. */
export interface OpenedData {
  stream: Readable;
  info: DataInfo;
  offset: number;
  length: number;
}

/** The catalog entry of a url that must hold ready data (404 otherwise). */
export async function readyEntry(ctx: HolderContext, url: string): Promise<CatalogEntry & { info: DataInfo }> {
  const entry = await ctx.catalog.entry(url);
  if (entry.state === 'starting') throw new KsError('not_found', `data url ${JSON.stringify(url)} is still being saved (on node ${entry.writer})`);
  if (entry.state !== 'ready' || !entry.info) throw new KsError('not_found', `no data at url ${JSON.stringify(url)}`);
  return entry as CatalogEntry & { info: DataInfo };
}

/**
 * Opens a url for reading: this node's copy when it holds one; otherwise (unless `localOnly`)
 * the bytes are relayed from a live holder, without keeping a copy here.
 */
export async function openData(ctx: HolderContext, url: string, range: ReadRange, localOnly: boolean, relayed?: { reads: number; bytes: number }): Promise<OpenedData> {
  const entry = await readyEntry(ctx, url);
  const { info } = entry;
  const offset = range.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new KsError('bad_request', `offset must be a non-negative integer, not ${range.offset}`);
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)) {
    throw new KsError('bad_request', `length must be a non-negative integer, not ${range.length}`);
  }
  if (offset > info.size) throw new KsError('bad_request', `offset ${offset} is past the end of ${JSON.stringify(url)} (${info.size} bytes)`);
  const length = Math.min(range.length ?? info.size - offset, info.size - offset);

  if (entry.holders.includes(ctx.self)) {
    const opened = await ctx.dir.openForRead(url);
    if (opened) {
      if (length === 0) {
        await opened.handle.close();
        return { stream: Readable.from([]), info, offset, length };
      }
      const stream = opened.handle.createReadStream({ start: offset, end: offset + length - 1, highWaterMark: 1 << 20 });
      return { stream, info, offset, length };
    }
    ctx.log.warn({ url }, 'the catalog lists this node as a holder but its file is missing');
  }
  if (localOnly) throw new KsError('not_found', `node ${ctx.self} holds no copy of ${JSON.stringify(url)}`);

  const live = await ctx.peers.liveByName();
  const errors: string[] = [];
  for (const holder of entry.holders) {
    const node = live.get(holder);
    if (!node || holder === ctx.self) continue;
    try {
      const query = new URLSearchParams({ local: 'true', offset: String(offset), length: String(length) });
      const response = await ctx.peers.transport(node).requestRaw('GET', `rpc/data/${dataUrlPath(url)}?${query}`);
      if (relayed) relayed.reads++;
      return { stream: relayed ? counted(response.body, (n) => (relayed.bytes += n)) : response.body, info, offset, length };
    } catch (error) {
      errors.push(`${holder}: ${(error as Error).message}`);
    }
  }
  throw new KsError('unavailable', `no live holder of ${JSON.stringify(url)} could serve it${errors.length ? ` (${errors.join('; ')})` : ` (holders: ${entry.holders.join(', ') || 'none'})`}`);
}

/** sha256 of this node's copy, read from its disk (not the catalog's word). */
export async function localChecksum(ctx: HolderContext, url: string): Promise<string> {
  const opened = await ctx.dir.openForRead(url);
  if (!opened) throw new KsError('not_found', `node ${ctx.self} holds no copy of ${JSON.stringify(url)}`);
  const stream = opened.handle.createReadStream({ highWaterMark: 1 << 20 });
  return (await hashFile(stream)).sha256;
}

/** Response headers describing the data (see DATA_HEADERS). */
export function dataHeaders(info: DataInfo): Record<string, string> {
  return { [DATA_HEADERS.sha256]: info.sha256, [DATA_HEADERS.size]: String(info.size), [DATA_HEADERS.fmt]: info.fmt };
}

/** The same bytes, reporting each chunk's size as it passes. */
function counted(source: Readable, onBytes: (n: number) => void): Readable {
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  source.on('error', (error) => meter.destroy(error));
  meter.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(meter);
}
