import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { SaveSource } from '../../src/data-backend.js';
import type { DataFormat, DataInfo, DataInfoReport, PipelineReport } from '../../src/data-protocol.js';
import { KsError, type ErrorCode } from '../../src/errors.js';
import type { LocalCopy } from './copies.js';
import type { DataHolder, MemoryChange } from './data-holder.js';

/** Every answer crosses the port as a value, so a KsError keeps its code. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string; code?: ErrorCode } };

/**
 * What a task's worker thread may ask its node's DataHolder (architecture §2: threads hold no Redis
 * or NATS connection). Served with comlink over a MessagePort; bulky data never crosses it:
 * reads answer with a local file path, saves send bytes the task already holds, or a path.
 */
export interface TaskDataApi {
  save(url: string, fmt: DataFormat, source: SaveSource): Promise<Outcome<DataInfo>>;
  localPath(url: string): Promise<Outcome<LocalCopy>>;
  info(urls: string[]): Promise<Outcome<DataInfoReport>>;
  search(glob: string): Promise<Outcome<string[]>>;
  delete(url: string, host?: string): Promise<Outcome<string[]>>;
  reduce(urls: string[], keep: number): Promise<Outcome<Record<string, string[]>>>;
  checksums(url: string): Promise<Outcome<Record<string, string | null>>>;
  pipeline(url: string): Promise<Outcome<PipelineReport>>;
  /**
   * A whole read through the node's memory tier: the bytes in a SharedArrayBuffer (shared
   * with the thread, not copied), held for `job` until `memoryRelease`; `{ path }` when the
   * tier is off.
   */
  memoryRead(url: string, job: string): Promise<Outcome<MemoryRead>>;
  /** may the thread keep its decoded object of `url` (counted as `size` bytes)? */
  memoryKeep(url: string, job: string, size: number): Promise<boolean>;
  /** the thread reuses its decoded object: false when the tier evicted it meanwhile */
  memoryTouch(url: string, job: string): Promise<boolean>;
  /** the job ended: what it held may be evicted */
  memoryRelease(job: string): Promise<void>;
  load(urls: string[], nodes?: string[]): Promise<Outcome<MemoryChange>>;
  unload(urls: string[], nodes?: string[]): Promise<Outcome<MemoryChange>>;
}

export type MemoryRead =
  | { fmt: DataFormat; size: number; bytes: SharedArrayBuffer; cached: boolean }
  | { fmt: DataFormat; size: number; path: string };

/** Sent on the port (outside comlink) when the tier evicts decoded objects the thread keeps. */
export interface EvictNotice {
  ksEvict: string[];
}

let threads = 0;

/** Serves the TaskDataApi on a worker thread's port. */
export function exposeTaskData(port: MessagePort, holder: DataHolder): void {
  const thread = ++threads;
  holder.addThread(thread, (urls) => port.postMessage({ ksEvict: urls } satisfies EvictNotice));
  port.once('close', () => holder.removeThread(thread));
  const api: TaskDataApi = {
    save: (url, fmt, source) => settle(async () => {
      let stream: Readable;
      let size: number;
      if ('bytes' in source) {
        const bytes = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength);
        stream = Readable.from([bytes]);
        size = bytes.length;
      } else {
        size = (await stat(source.path)).size;
        stream = createReadStream(source.path, { highWaterMark: 1 << 20 });
      }
      try {
        return await holder.ask((reply) => ({ type: 'save', request: { url, fmt, source: stream, size }, reply }));
      } finally {
        stream.destroy();
      }
    }),
    localPath: (url) => settle(() => holder.ask((reply) => ({ type: 'localPath', url, reply }))),
    info: (urls) => settle(() => holder.ask((reply) => ({ type: 'info', urls, reply }))),
    search: (glob) => settle(() => holder.ask((reply) => ({ type: 'search', glob, reply }))),
    delete: (url, host) => settle(() => holder.ask((reply) => ({ type: 'delete', url, host, reply }))),
    reduce: (urls, keep) => settle(() => holder.ask((reply) => ({ type: 'reduce', urls, keep, reply }))),
    checksums: (url) => settle(() => holder.ask((reply) => ({ type: 'checksums', url, reply }))),
    pipeline: (url) => settle(() => holder.ask((reply) => ({ type: 'pipeline', url, reply }))),
    memoryRead: (url, job) => settle(async (): Promise<MemoryRead> => {
      if (!holder.memory.enabled) {
        const copy = await holder.ask((reply) => ({ type: 'localPath', url, reply }));
        return { fmt: copy.fmt, size: copy.size, path: copy.path };
      }
      const read = await holder.memoryRead(url, thread, job);
      return { fmt: read.fmt, size: read.size, bytes: read.bytes, cached: read.cached };
    }),
    memoryKeep: async (url, job, size) => holder.memory.keepDecoded(url, thread, job, size),
    memoryTouch: async (url, job) => holder.memory.touchDecoded(url, thread, job),
    memoryRelease: async (job) => holder.memory.releaseJob(thread, job),
    load: (urls, nodes) => settle(() => holder.ask((reply) => ({ type: 'load', urls, nodes, local: false, reply }))),
    unload: (urls, nodes) => settle(() => holder.ask((reply) => ({ type: 'unload', urls, nodes, local: false, reply }))),
  };
  Comlink.expose(api, nodeEndpoint(port));
}

async function settle<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    if (error instanceof KsError) return { ok: false, error: { name: error.name, message: error.message, code: error.code } };
    const e = error instanceof Error ? error : new Error(String(error));
    return { ok: false, error: { name: e.name, message: e.message } };
  }
}
