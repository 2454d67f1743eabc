import { open } from 'node:fs/promises';
import { totalmem } from 'node:os';
import type { DataFormat } from '../../src/data-protocol.js';
import { KsError } from '../../src/errors.js';
import type { MemoryStats } from '../../src/data-protocol.js';

const GiB = 1024 ** 3;

/** The default `--memory-cache`: a quarter of the machine's memory, at most 4 GiB. */
export function defaultMemoryCache(): number {
  return Math.min(4 * GiB, Math.floor(totalmem() / 4));
}

/** A url's bytes in memory, shared with every worker thread of the node. */
export interface SharedBytes {
  bytes: SharedArrayBuffer;
  fmt: DataFormat;
  size: number;
  /** false: the bytes did not fit the budget; they were read for this one read and are not kept */
  cached: boolean;
}

/** Where a url's file is and what it is, as the DataHolder knows it. */
export interface FileToLoad {
  path: string;
  fmt: DataFormat;
  size: number;
}

/**
 * Something the tier counts against its budget: a url's bytes (`bytes`), or a worker
 * thread's decoded object of a url (`decoded`, counted by the url's encoded size, 0 when
 * it is a view on the shared bytes).
 */
type Item =
  | { kind: 'bytes'; url: string; size: number; fmt: DataFormat; bytes: SharedArrayBuffer; pinned: boolean; advertised: boolean }
  | { kind: 'decoded'; url: string; size: number; thread: number };

/** What the tier tells the catalog (the `data:mem:<node>` fact routing reads). */
export interface MemoryFacts {
  add(url: string, size: number, pinned: boolean): void;
  remove(url: string): void;
}

export type { MemoryStats } from '../../src/data-protocol.js';

/** Urls at least this big are advertised to routing when they enter memory (pinned ones always). */
export const ADVERTISE_MIN_BYTES = 1024 * 1024;

const bytesKey = (url: string) => `b\0${url}`;
const decodedKey = (thread: number, url: string) => `d\0${thread}\0${url}`;

/**
 * The node-wide memory tier (issue 11): the bytes of recently read data in SharedArrayBuffers
 * every worker thread reads without a copy, and the bookkeeping of the decoded objects the
 * threads keep, all within one budget. The main thread is the single accountant: a thread
 * asks before it keeps a decoded object, and is told (`onEvict`) when it must drop one.
 *
 * Least recently used items go first, but never a pinned url (`load()`), nor a url a running
 * task holds (a reference taken by its read, released when its job ends).
 */
export class MemoryTier {
  private used = 0;
  /** every counted item, least recently used first (a Map keeps insertion order) */
  private readonly items = new Map<string, Item>();
  /** url -> references of running tasks */
  private readonly urlRefs = new Map<string, number>();
  /** `<thread>\0<job>` -> urls that job holds */
  private readonly jobRefs = new Map<string, Set<string>>();
  /** one disk read per url at a time */
  private readonly loading = new Map<string, Promise<SharedBytes>>();

  constructor(
    readonly limit: number,
    private readonly self: string,
    private readonly facts: MemoryFacts,
    private readonly onEvict: (thread: number, urls: string[]) => void,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /**
   * A url's bytes for a task's read: from memory, else read from `file` (the node's copy) and
   * kept when they fit. The task (`thread`, `job`) holds the url until its job ends.
   */
  async read(url: string, thread: number, job: string, file: () => Promise<FileToLoad>): Promise<SharedBytes> {
    const got = await this.bytesOf(url, file, false);
    if (got.cached) this.acquire(url, thread, job);
    return got;
  }

  /** Pins a url in memory (reading it from `file` if needed); fails when it does not fit. */
  async load(url: string, file: () => Promise<FileToLoad>): Promise<{ url: string; size: number }> {
    const got = await this.bytesOf(url, file, true);
    if (!got.cached) throw this.noRoom(url, got.size);
    return { url, size: got.size };
  }

  /** Unpins a url; it stays in memory as any recently used data. Returns whether it was pinned. */
  unload(url: string): boolean {
    const item = this.items.get(bytesKey(url));
    if (item?.kind !== 'bytes' || !item.pinned) return false;
    item.pinned = false;
    if (item.size < ADVERTISE_MIN_BYTES) this.unadvertise(item);
    else this.facts.add(url, item.size, false);
    return true;
  }

  /**
   * A thread asks to keep its decoded object of a url, counted as `size` bytes; true when it
   * may (the object then counts until the tier evicts it and tells the thread).
   */
  keepDecoded(url: string, thread: number, job: string, size: number): boolean {
    if (!this.enabled) return false;
    const key = decodedKey(thread, url);
    if (this.items.has(key)) return this.touchDecoded(url, thread, job);
    if (!this.makeRoom(size)) return false;
    this.items.set(key, { kind: 'decoded', url, size, thread });
    this.used += size;
    this.acquire(url, thread, job);
    return true;
  }

  /** A thread reuses its decoded object: false when the tier evicted it meanwhile. */
  touchDecoded(url: string, thread: number, job: string): boolean {
    const key = decodedKey(thread, url);
    const item = this.items.get(key);
    if (!item) return false;
    this.items.delete(key);
    this.items.set(key, item);
    this.acquire(url, thread, job);
    return true;
  }

  /** The job ended: the urls it held may be evicted again. */
  releaseJob(thread: number, job: string): void {
    const key = `${thread}\0${job}`;
    for (const url of this.jobRefs.get(key) ?? []) {
      const left = (this.urlRefs.get(url) ?? 1) - 1;
      if (left > 0) this.urlRefs.set(url, left);
      else this.urlRefs.delete(url);
    }
    this.jobRefs.delete(key);
  }

  /** A thread is gone: its jobs hold nothing and its decoded objects count no more. */
  releaseThread(thread: number): void {
    for (const key of [...this.jobRefs.keys()]) {
      if (key.startsWith(`${thread}\0`)) this.releaseJob(thread, key.slice(key.indexOf('\0') + 1));
    }
    for (const [key, item] of this.items) {
      if (item.kind === 'decoded' && item.thread === thread) this.remove(key, item, false);
    }
  }

  /** The url's data left this node (deleted): forget it, whoever holds it. */
  drop(url: string): void {
    for (const [key, item] of [...this.items]) if (item.url === url) this.remove(key, item, true);
  }

  /** Records again every memory fact this tier has made (the catalog lost them with Redis's data). */
  advertiseAll(): void {
    for (const item of this.items.values()) if (item.kind === 'bytes' && item.advertised) this.facts.add(item.url, item.size, item.pinned);
  }

  stats(): MemoryStats {
    const stats: MemoryStats = {
      limit: this.limit,
      used: this.used,
      bytes: { urls: 0, size: 0 },
      pinned: { urls: 0, size: 0 },
      decoded: { objects: 0, size: 0 },
      inUse: this.urlRefs.size,
      urls: [],
    };
    for (const item of this.items.values()) {
      if (item.kind === 'decoded') {
        stats.decoded.objects++;
        stats.decoded.size += item.size;
        continue;
      }
      stats.bytes.urls++;
      stats.bytes.size += item.size;
      if (item.pinned) {
        stats.pinned.urls++;
        stats.pinned.size += item.size;
      }
      stats.urls.push({ url: item.url, size: item.size, pinned: item.pinned });
    }
    stats.urls.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
    return stats;
  }

  private async bytesOf(url: string, file: () => Promise<FileToLoad>, pin: boolean): Promise<SharedBytes> {
    const existing = this.items.get(bytesKey(url));
    if (existing?.kind === 'bytes') {
      this.items.delete(bytesKey(url));
      this.items.set(bytesKey(url), existing);
      if (pin && !existing.pinned) {
        existing.pinned = true;
        this.advertise(existing);
      }
      return { bytes: existing.bytes, fmt: existing.fmt, size: existing.size, cached: true };
    }
    let pending = this.loading.get(url);
    if (!pending) {
      pending = this.readIn(url, file).finally(() => this.loading.delete(url));
      this.loading.set(url, pending);
    }
    const read = await pending;
    // Another caller's read may have been admitted meanwhile; a pin needs the kept copy.
    const kept = this.items.get(bytesKey(url));
    if (kept?.kind === 'bytes') return this.bytesOf(url, file, pin);
    if (!pin && !read.cached) return read;
    if (!this.makeRoom(read.size)) return { ...read, cached: false };
    const item: Item = { kind: 'bytes', url, size: read.size, fmt: read.fmt, bytes: read.bytes, pinned: pin, advertised: false };
    this.items.set(bytesKey(url), item);
    this.used += read.size;
    if (pin || read.size >= ADVERTISE_MIN_BYTES) this.advertise(item);
    return { ...read, cached: true };
  }

  /** Reads the file into shared memory; `cached` says whether it could fit the budget at all. */
  private async readIn(url: string, file: () => Promise<FileToLoad>): Promise<SharedBytes> {
    const { path, fmt, size } = await file();
    const bytes = new SharedArrayBuffer(size);
    const view = new Uint8Array(bytes);
    const handle = await open(path, 'r');
    try {
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(view, done, size - done, done);
        if (bytesRead === 0) throw new KsError('internal', `the copy of ${JSON.stringify(url)} on this node is shorter than its ${size} bytes`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return { bytes, fmt, size, cached: size <= this.limit };
  }

  /** Evicts least recently used items (never pinned, never held) until `size` more bytes fit. */
  private makeRoom(size: number): boolean {
    if (size > this.limit) return false;
    if (this.used + size <= this.limit) return true;
    let evictable = 0;
    for (const item of this.items.values()) if (this.evictable(item)) evictable += item.size;
    if (this.used - evictable + size > this.limit) return false;
    for (const [key, item] of [...this.items]) {
      if (this.used + size <= this.limit) break;
      if (this.evictable(item)) this.remove(key, item, true);
    }
    return this.used + size <= this.limit;
  }

  private evictable(item: Item): boolean {
    if (this.urlRefs.has(item.url)) return false;
    return item.kind === 'decoded' || !item.pinned;
  }

  /**
   * Removes an item from the count. Evicting a url's bytes also evicts the threads' objects
   * of it (a `raw` object is a view on those bytes); threads are told what to drop.
   */
  private remove(key: string, item: Item, notify: boolean): void {
    if (!this.items.delete(key)) return;
    this.used -= item.size;
    if (item.kind === 'decoded') {
      if (notify) this.onEvict(item.thread, [item.url]);
      return;
    }
    this.unadvertise(item);
    for (const [otherKey, other] of [...this.items]) {
      if (other.kind === 'decoded' && other.url === item.url) this.remove(otherKey, other, notify);
    }
  }

  private acquire(url: string, thread: number, job: string): void {
    const key = `${thread}\0${job}`;
    let urls = this.jobRefs.get(key);
    if (!urls) this.jobRefs.set(key, (urls = new Set()));
    if (urls.has(url)) return;
    urls.add(url);
    this.urlRefs.set(url, (this.urlRefs.get(url) ?? 0) + 1);
  }

  private advertise(item: Item & { kind: 'bytes' }): void {
    item.advertised = true;
    this.facts.add(item.url, item.size, item.pinned);
  }

  private unadvertise(item: Item & { kind: 'bytes' }): void {
    if (!item.advertised) return;
    item.advertised = false;
    this.facts.remove(item.url);
  }

  private noRoom(url: string, size: number): KsError {
    let held = 0;
    for (const item of this.items.values()) if (!this.evictable(item)) held += item.size;
    return new KsError(
      'insufficient_storage',
      `cannot load ${JSON.stringify(url)} (${size} bytes) into memory on node ${this.self}: its memory cache (--memory-cache ${this.limit} bytes) ` +
        `has ${Math.max(0, this.limit - held)} bytes not taken by pinned data or data in use; unload something first or start the node with a larger --memory-cache`,
    );
  }
}
