import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import type { DataBackend, MemoryChange, ReadRange, SaveSource, TransferOptions } from '../data-backend.js';
import { checkDataFormat, DATA_HEADERS, type DataFormat, type DataInfo, type DataInfoReport, type ImportReport, type PipelineReport } from '../data-protocol.js';
import { dataUrlPath } from '../data-url.js';
import { KsError } from '../errors.js';
import { HashingFileWriter } from '../hashing-file-writer.js';
import type { Transport } from './transport.js';
import { pathExists } from '../path-exists.js';
import { localDataCache, localDataCacheLimit, markUsed, trimLocalCache } from './local-cache.js';

const OCTETS = 'application/octet-stream';

/** Where `localPath()` keeps downloaded copies in a user's process, by sha256. */
/**
 * Remote data over HTTP to one node: streaming uploads (`POST /rpc/data/<url>`), downloads
 * (`GET`, whole or a range) checked against the catalog's sha256, and the catalog routes.
 */
export class DataHttp implements DataBackend {
  /** `transport`: one node's, or a getter for the node a client talks to now */
  constructor(private readonly transportOf: Transport | (() => Transport)) {}

  private get transport(): Transport {
    return typeof this.transportOf === 'function' ? this.transportOf() : this.transportOf;
  }

  get nodeUrl(): string {
    return this.transport.baseUrl;
  }

  async save(url: string, fmt: DataFormat, source: SaveSource, options: TransferOptions = {}): Promise<DataInfo> {
    const headers: Record<string, string> = { 'content-type': OCTETS };
    let body: Buffer | Readable;
    let total: number;
    if ('bytes' in source) {
      body = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength);
      total = body.length;
      headers[DATA_HEADERS.expectSha256] = createHash('sha256').update(body).digest('hex');
    } else {
      total = (await stat(source.path)).size;
      body = createReadStream(source.path, { highWaterMark: 1 << 20 });
    }
    headers['content-length'] = String(total);
    if (options.onProgress) {
      const meter = progressMeter(options.onProgress, total);
      body = through(Buffer.isBuffer(body) ? sliced(body) : body, meter);
    }
    const response = await this.transport.requestRaw('POST', `rpc/data/${dataUrlPath(url)}?fmt=${fmt}`, { body, headers, signal: options.signal });
    return (await response.body.json()) as DataInfo;
  }

  async read(url: string, range: ReadRange = {}): Promise<{ bytes: Buffer; fmt: DataFormat }> {
    const response = await this.get(url, range);
    const whole = range.offset === undefined && range.length === undefined;
    const hash = whole ? createHash('sha256') : undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) {
      hash?.update(chunk as Buffer);
      chunks.push(chunk as Buffer);
    }
    if (hash) checkHash(url, hash.digest('hex'), response);
    return { bytes: Buffer.concat(chunks), fmt: formatOf(response) };
  }

  /**
   * Streams a url into `target`: a file (written through a temp file beside it, renamed once
   * the sha256 matched) or a stream (checked once everything was written to it).
   */
  async download(url: string, target: string | Writable, options: TransferOptions = {}): Promise<{ fmt: DataFormat; size: number; sha256: string }> {
    const response = await this.get(url, {}, options.signal);
    if (typeof target === 'string') return this.saveResponse(url, response, target, options);
    const meter = new HashMeter(options.onProgress, contentLength(response));
    await pipeline(response.body, meter, target, { end: false });
    checkHash(url, meter.sha256(), response);
    return { fmt: formatOf(response), size: meter.size, sha256: meter.sha256() };
  }

  async localPath(url: string): Promise<{ path: string; fmt: DataFormat }> {
    const response = await this.get(url, {});
    const sha = String(response.headers[DATA_HEADERS.sha256] ?? '');
    const fmt = formatOf(response);
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new KsError('unavailable', `the node sent no sha256 for data url ${JSON.stringify(url)}`);
    const cache = localDataCache();
    const limit = localDataCacheLimit();
    const path = join(cache, sha);
    if (await pathExists(path)) {
      response.body.on('error', () => undefined).destroy();
      await markUsed(path);
      return { path, fmt };
    }
    await this.saveResponse(url, response, path, {});
    await trimLocalCache(cache, limit, new Set([path]));
    return { path, fmt };
  }

  async info(urls: string[]): Promise<DataInfoReport> {
    return this.transport.requestCbor('POST', 'rpc/data-info', { urls });
  }

  async search(glob: string): Promise<string[]> {
    const { urls } = await this.transport.requestCbor<{ urls: string[] }>('GET', `rpc/search?glob=${encodeURIComponent(glob)}`);
    return urls;
  }

  async delete(url: string, host?: string): Promise<string[]> {
    const query = host === undefined ? '' : `?host=${encodeURIComponent(host)}`;
    const { deleted } = await this.transport.requestCbor<{ deleted: string[] }>('DELETE', `rpc/data/${dataUrlPath(url)}${query}`);
    return deleted;
  }

  async reduce(urls: string[], keep: number): Promise<Record<string, string[]>> {
    const { deleted } = await this.transport.requestCbor<{ deleted: Record<string, string[]> }>('POST', 'rpc/data-reduce', { urls, keep });
    return deleted;
  }

  async checksums(url: string): Promise<Record<string, string | null>> {
    // Each holder hashes its whole copy before the answer: no timeout on it.
    const { checksums } = await this.transport.requestCbor<{ checksums: Record<string, string | null> }>('GET', `rpc/data-checksums/${dataUrlPath(url)}`, undefined, { timeoutMs: 0 });
    return checksums;
  }

  async load(urls: string[], nodes?: string[]): Promise<MemoryChange> {
    return this.transport.requestCbor('POST', 'rpc/data-load', nodes ? { urls, nodes } : { urls });
  }

  async unload(urls: string[], nodes?: string[]): Promise<MemoryChange> {
    return this.transport.requestCbor('POST', 'rpc/data-unload', nodes ? { urls, nodes } : { urls });
  }

  /** Registers files already in the node's data directory (paths relative to it). */
  async importData(paths: string[], options: { prefix?: string; fmt?: string } = {}): Promise<ImportReport> {
    return this.transport.requestCbor('POST', 'rpc/data-import', { paths, ...options });
  }

  async pipeline(url: string): Promise<PipelineReport> {
    // The answer comes when every copy is written: no timeout on it.
    return this.transport.requestCbor('POST', `rpc/data-pipeline/${dataUrlPath(url)}`, undefined, { timeoutMs: 0 });
  }

  private async get(url: string, range: ReadRange, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const query = new URLSearchParams();
    if (range.offset !== undefined) query.set('offset', String(range.offset));
    if (range.length !== undefined) query.set('length', String(range.length));
    const suffix = query.size > 0 ? `?${query}` : '';
    return this.transport.requestRaw('GET', `rpc/data/${dataUrlPath(url)}${suffix}`, { signal });
  }

  private async saveResponse(url: string, response: Dispatcher.ResponseData, file: string, options: TransferOptions): Promise<{ fmt: DataFormat; size: number; sha256: string }> {
    await mkdir(dirname(file), { recursive: true });
    const temp = join(dirname(file), `.ks-download-${randomUUID()}`);
    const total = contentLength(response);
    const onProgress = options.onProgress;
    const writer = new HashingFileWriter(temp, { onProgress: onProgress && ((done) => onProgress(done, total)) });
    try {
      await pipeline(response.body, writer);
      checkHash(url, writer.sha256, response);
      await rename(temp, file);
      return { fmt: formatOf(response), size: writer.size, sha256: writer.sha256 };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}

/** Hashes and counts what passes through, reporting progress. */
class HashMeter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private digest?: string;

  constructor(private readonly onProgress: TransferOptions['onProgress'], private readonly total: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.onProgress?.(this.size, this.total);
    callback(null, chunk);
  }

  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

function contentLength(response: Dispatcher.ResponseData): number | undefined {
  const total = Number(response.headers['content-length'] ?? NaN);
  return Number.isFinite(total) ? total : undefined;
}

function formatOf(response: Dispatcher.ResponseData): DataFormat {
  return checkDataFormat(String(response.headers[DATA_HEADERS.fmt] ?? 'raw'));
}

function checkHash(url: string, actual: string, response: Dispatcher.ResponseData): void {
  const expected = String(response.headers[DATA_HEADERS.sha256] ?? '');
  if (expected && actual !== expected) {
    throw new KsError('corrupt_data', `the bytes received for data url ${JSON.stringify(url)} have sha256 ${actual}, but the catalog says ${expected}: a copy is corrupt`);
  }
}

function progressMeter(onProgress: (done: number, total: number | undefined) => void, total: number): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      done += chunk.length;
      onProgress(done, total);
      callback(null, chunk);
    },
  });
}

/** A buffer as 1 MiB slices, so progress moves as it is sent. */
function* sliced(buffer: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < buffer.length; offset += 1 << 20) yield buffer.subarray(offset, offset + (1 << 20));
}

/** `source` piped through `transform`; an error on either side destroys both. */
function through(source: Readable | Iterable<Buffer>, transform: Transform): Transform {
  pipeline(source, transform).catch(() => undefined);
  return transform;
}
