import { randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defaultDataOrigin, httpDataBackend, type DataOrigin } from './client/data-origin.js';
import { decode, encode, registerClass } from './codec.js';
import { taskDataBackend, type DataBackend, type MemoryChange, type ReadRange, type SaveSource, type TransferOptions } from './data-backend.js';
import { checkDataFormat, type DataFormat, type PipelineReport } from './data-protocol.js';
import { checkDataUrl } from './data-url.js';
import { KsError } from './errors.js';

export type { DataFormat };

/** CBOR tag for RemoteData references (private-use range). */
export const REMOTE_DATA_TAG = 40_501;

interface RemoteDataWire {
  url: string;
  fmt?: DataFormat;
}

export interface SaveOptions extends TransferOptions {
  /** the url to save to; it must not exist yet (data is write-once) */
  url?: string;
  /** save to `<prefix>/<uuid>` */
  prefix?: string;
}

/** What this process knows of the data before (or besides) the cluster's copy. */
type Content =
  | { kind: 'value'; value: unknown }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'path'; path: string };

/** Set while `fromLocal` runs the constructor for local data. */
let building: { content: Content; fmt: DataFormat } | undefined;

/**
 * Data that lives on the cluster (architecture §6–7), or is about to: `du(url)` references saved
 * data, `dobj(value)`, `dp(path)` and `dr(bytes)` wrap local data until `save()` stores it on
 * a node. It crosses the wire as a small tagged CBOR value (its url and format), never as
 * the bytes. Inside a task, its methods talk to the node's DataHolder; elsewhere, over HTTP
 * to `rpcUrl`.
 */
export class RemoteData<T = unknown> {
  #url: string | undefined;
  #fmt: DataFormat | undefined;
  #content: Content | undefined;
  #rpcUrl: string | undefined;
  #origin: DataOrigin | undefined;

  /** A reference to saved data (`du(url)` does the same). */
  constructor(url: string, fmt?: DataFormat) {
    if (building) {
      this.#content = building.content;
      this.#fmt = building.fmt;
      return;
    }
    this.#url = checkDataUrl(url);
    this.#fmt = fmt === undefined ? undefined : checkDataFormat(fmt);
  }

  /** Local data to be saved: what `dobj`, `dp` and `dr` build. */
  static fromLocal<T>(content: Content, fmt: DataFormat): RemoteData<T> {
    building = { content, fmt };
    try {
      return new RemoteData<T>('');
    } finally {
      building = undefined;
    }
  }

  /** The url on the cluster; throws for local data that has not been saved yet. */
  get dataUrl(): string {
    if (this.#url === undefined) {
      throw new KsError('bad_request', 'this RemoteData has not been saved yet, so it has no data url and cannot be sent to the cluster: `await data.save()` first');
    }
    return this.#url;
  }

  get saved(): boolean {
    return this.#url !== undefined;
  }

  /** The format: known for local data, and for references once read (the node says). */
  get fmt(): DataFormat | undefined {
    return this.#fmt;
  }

  /**
   * The node that saves go to and reads come from. Default: the client this reference came
   * from (a result), else inside a task the task's node, else the default client's url
   * (`setupClient`).
   */
  get rpcUrl(): string {
    return this.#backend().nodeUrl;
  }

  set rpcUrl(url: string) {
    this.#rpcUrl = new URL(url).href;
  }

  /** Stores local data on the cluster (write-once: an existing url is a `conflict`). */
  async save(options: SaveOptions = {}): Promise<this> {
    if (this.#url !== undefined) throw new KsError('conflict', `this RemoteData is already saved at ${JSON.stringify(this.#url)}`);
    const content = this.#content;
    if (!content) throw new KsError('bad_request', 'nothing to save: this RemoteData references data on the cluster');
    if (options.url !== undefined && options.prefix !== undefined) throw new KsError('bad_request', 'save() takes a url or a prefix, not both');
    const url = checkDataUrl(options.url ?? (options.prefix !== undefined ? `${options.prefix}/${randomUUID()}` : randomUUID()));
    const fmt = this.#fmt ?? 'cbor';
    const source: SaveSource = content.kind === 'path' ? { path: content.path } : { bytes: this.#encodeContent(content, fmt) };
    await this.#backend().save(url, fmt, source, options);
    this.#url = url;
    return this;
  }

  /**
   * The data as an object: decoded CBOR or JSON; the bytes (a Buffer) for `raw` and `file` data.
   * Inside a task, what comes from the node's memory tier is shared by the thread's tasks and
   * read-only: objects and arrays are frozen, and a Buffer or typed array in it (which
   * JavaScript cannot freeze) must not be written; `{ copy: true }` decodes a private copy.
   */
  async obj(options: { copy?: boolean } = {}): Promise<T> {
    const content = this.#content;
    if (content?.kind === 'value') return content.value as T;
    if (content?.kind === 'bytes') return decodeAs(Buffer.from(content.bytes), this.#fmt ?? 'raw') as T;
    if (content?.kind === 'path') return decodeAs(await readFile(content.path), this.#fmt ?? 'file') as T;
    const backend = this.#backend();
    if (backend.object) {
      const { value, fmt } = await backend.object(this.dataUrl, options.copy === true);
      this.#fmt = fmt;
      return value as T;
    }
    const { bytes, fmt } = await backend.read(this.dataUrl);
    this.#fmt = fmt;
    return decodeAs(bytes, fmt) as T;
  }

  /** The stored bytes, or `length` bytes from `offset`. A whole read is checked against the catalog's sha256. */
  async raw(range: ReadRange = {}): Promise<Buffer> {
    const content = this.#content;
    if (content?.kind === 'path') return readFileRange(content.path, range);
    if (content) return sliceRange(Buffer.from(this.#encodeContent(content, this.#fmt ?? 'cbor')), range);
    const { bytes, fmt } = await this.#backend().read(this.dataUrl, range);
    this.#fmt = fmt;
    return bytes;
  }

  /**
   * A local file holding the data. Inside a task, the node's own copy (fetched from a holder
   * first when the node has none); in a user's process, a verified download kept in a cache
   * (`KS_DATA_CACHE`). For `dp(path)` data, that path.
   */
  async localPath(): Promise<string> {
    if (this.#content?.kind === 'path') return this.#content.path;
    const { path, fmt } = await this.#backend().localPath(this.dataUrl);
    this.#fmt = fmt;
    return path;
  }

  /**
   * Reads the data into memory on its holders (with `nodes`: on those nodes, copying it there
   * first) and pins it there: the node's memory tier never evicts it until `unload()`. Fails
   * (`insufficient_storage`) on a node whose `--memory-cache` cannot hold it.
   */
  async load(options: { nodes?: string[] } = {}): Promise<MemoryChange> {
    return this.#backend().load([this.dataUrl], options.nodes);
  }

  /** Unpins the data (on `nodes`, or everywhere); it stays in memory as any recently read data. */
  async unload(options: { nodes?: string[] } = {}): Promise<MemoryChange> {
    return this.#backend().unload([this.dataUrl], options.nodes);
  }

  /** Copies the data to every live writable node that lacks it, streaming node to node. */
  async pipeline(): Promise<PipelineReport> {
    return this.#backend().pipeline(this.dataUrl);
  }

  toString(): string {
    return `RemoteData(${this.#url ?? `unsaved ${this.#content?.kind}`})`;
  }

  /** @internal the wire form; unsaved data cannot be sent */
  toWire(): RemoteDataWire {
    const wire: RemoteDataWire = { url: this.dataUrl };
    if (this.#fmt !== undefined) wire.fmt = this.#fmt;
    return wire;
  }

  /** @internal a reference decoded from a client's results talks to that client's node */
  adoptOrigin(origin: DataOrigin): void {
    this.#origin = origin;
  }

  #encodeContent(content: Content, fmt: DataFormat): Uint8Array {
    switch (content.kind) {
      case 'bytes':
        return content.bytes;
      case 'value':
        if (fmt === 'json') return Buffer.from(JSON.stringify(content.value) ?? 'null', 'utf8');
        return encode(content.value);
      case 'path':
        throw new Error('unreachable: file content is streamed');
    }
  }

  #backend(): DataBackend {
    const { token, ca } = this.#origin ?? defaultDataOrigin() ?? {};
    if (this.#rpcUrl !== undefined) return httpDataBackend({ url: this.#rpcUrl, token, ca });
    if (this.#origin) return httpDataBackend(this.#origin);
    const inTask = taskDataBackend();
    if (inTask) return inTask;
    const origin = defaultDataOrigin();
    if (!origin) throw new KsError('bad_request', 'RemoteData does not know which node to talk to: call setupClient(url) first, or set data.rpcUrl');
    return httpDataBackend(origin);
  }
}

/** @internal the object of stored bytes in a format */
export function decodeAs(bytes: Buffer, fmt: DataFormat): unknown {
  switch (fmt) {
    case 'cbor':
      return decode(bytes);
    case 'json':
      return JSON.parse(bytes.toString('utf8'));
    case 'raw':
    case 'file':
      return bytes;
  }
}

function sliceRange(bytes: Buffer, { offset = 0, length }: ReadRange): Buffer {
  return bytes.subarray(offset, length === undefined ? undefined : offset + length);
}

async function readFileRange(path: string, range: ReadRange): Promise<Buffer> {
  if (range.offset === undefined && range.length === undefined) return readFile(path);
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const offset = Math.min(range.offset ?? 0, size);
    const length = Math.min(range.length ?? size - offset, size - offset);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** A reference to data saved on the cluster. */
export function du<T = unknown>(url: string): RemoteData<T> {
  return new RemoteData<T>(url);
}

/** An object to save: CBOR by default (`{ fmt: 'json' }` for JSON). */
export function dobj<T>(value: T, options: { fmt?: 'cbor' | 'json' } = {}): RemoteData<T> {
  const fmt = options.fmt ?? 'cbor';
  if (fmt !== 'cbor' && fmt !== 'json') throw new KsError('bad_request', `dobj() saves cbor or json, not ${JSON.stringify(fmt)}`);
  return RemoteData.fromLocal<T>({ kind: 'value', value }, fmt);
}

/** A local file to save as it is (format `file`); it is streamed from disk. */
export function dp(localPath: string): RemoteData<Buffer> {
  return RemoteData.fromLocal<Buffer>({ kind: 'path', path: resolve(localPath) }, 'file');
}

/** Bytes to save as they are (format `raw`). */
export function dr(bytes: Uint8Array): RemoteData<Buffer> {
  if (!(bytes instanceof Uint8Array)) throw new KsError('bad_request', 'dr() takes bytes (a Buffer or Uint8Array)');
  return RemoteData.fromLocal<Buffer>({ kind: 'bytes', bytes }, 'raw');
}

let decodingOrigin: DataOrigin | undefined;

/** Decodes a result; the RemoteData in it will talk to `origin` (the client that received them). */
export function decodeWithOrigin<R>(bytes: Uint8Array, origin: DataOrigin): R {
  decodingOrigin = origin;
  try {
    return decode<R>(bytes);
  } finally {
    decodingOrigin = undefined;
  }
}

registerClass<RemoteData, RemoteDataWire>({
  Class: RemoteData,
  tag: REMOTE_DATA_TAG,
  toWire: (value) => value.toWire(),
  fromWire: (wire) => {
    const data = new RemoteData(wire.url, wire.fmt);
    if (decodingOrigin) data.adoptOrigin(decodingOrigin);
    return data;
  },
});

/** Data urls among a call's arguments: top level, and one level into arrays and plain objects. */
export function dataUrlsOf(args: readonly unknown[]): string[] {
  const urls = new Set<string>();
  const visit = (value: unknown, depth: number) => {
    if (value instanceof RemoteData) {
      urls.add(value.dataUrl);
    } else if (depth === 0 && Array.isArray(value)) {
      for (const item of value) visit(item, 1);
    } else if (depth === 0 && value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const item of Object.values(value)) visit(item, 1);
    }
  };
  for (const arg of args) visit(arg, 0);
  return [...urls];
}
