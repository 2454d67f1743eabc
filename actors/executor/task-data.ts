import { open, readFile } from 'node:fs/promises';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { setTaskDataBackend, type DataBackend, type MemoryChange, type ReadRange, type SaveSource } from '../../src/data-backend.js';
import type { DataFormat, DataInfo, DataInfoReport, PipelineReport } from '../../src/data-protocol.js';
import { KsError } from '../../src/errors.js';
// Also registers RemoteData's CBOR tag in this thread, so a task's arguments decode to live RemoteData.
import { decodeAs } from '../../src/remote-data.js';
import { taskStorage } from '../../src/task-context.js';
import type { EvictNotice, MemoryRead, Outcome, TaskDataApi } from '../data-holder/task-data-api.js';

/**
 * The worker thread's side of remote data: RemoteData methods inside a task go to the node's
 * DataHolder through a comlink proxy on `port`. Reads come back as a local path, and the
 * thread reads the file itself.
 */
export function installTaskData(port: MessagePort, node: { name: string; url: string }): void {
  const remote = Comlink.wrap<TaskDataApi>(nodeEndpoint(port));
  installed = new TaskDataBackend(remote, node.url);
  setTaskDataBackend(installed);
  // The node's memory tier says which kept objects it evicted (comlink ignores these messages).
  port.on('message', (message: Partial<EvictNotice> | null) => {
    if (message && Array.isArray(message.ksEvict)) for (const url of message.ksEvict) installed?.forget(url);
  });
}

let installed: TaskDataBackend | undefined;

/** A job ended: the data it read from the node's memory may be evicted again. */
export function endTaskData(job: string): void {
  installed?.release(job);
}

class TaskDataBackend implements DataBackend {
  /** this thread's decoded objects, by url: shared by its tasks, counted by the node's memory tier */
  private readonly decoded = new Map<string, { value: unknown; fmt: DataFormat }>();
  /** jobs holding data of the memory tier */
  private readonly holding = new Set<string>();

  constructor(private readonly remote: Comlink.Remote<TaskDataApi>, readonly nodeUrl: string) {}

  forget(url: string): void {
    this.decoded.delete(url);
  }

  release(job: string): void {
    if (this.holding.delete(job)) void this.remote.memoryRelease(job).catch(() => undefined);
  }

  /**
   * The decoded data of a url: this thread's kept object when it has one (no read, no decode),
   * else decoded from the node's shared bytes and kept if the memory tier allows. Kept objects
   * are frozen; `raw`/`file` data is a Buffer viewing the shared bytes (not copied, not
   * freezable). With `copy`, a private decode.
   */
  async object(url: string, copy: boolean): Promise<{ value: unknown; fmt: DataFormat }> {
    const job = taskStorage.getStore()?.jobId;
    const shared = !copy && job !== undefined;
    const kept = shared ? this.decoded.get(url) : undefined;
    if (kept) {
      if (await this.remote.memoryTouch(url, job!)) {
        this.holding.add(job!);
        return kept;
      }
      this.decoded.delete(url);
    }
    const read = await this.memoryRead(url, job ?? '');
    if ('path' in read) return { value: decodeAs(await readFile(read.path), read.fmt), fmt: read.fmt };
    const view = Buffer.from(read.bytes, 0, read.size);
    // Bytes read for this one read (past the budget) are the task's own; cached ones are copied for a private object.
    if (!read.cached) return { value: decodeAs(view, read.fmt), fmt: read.fmt };
    if (!shared) return { value: decodeAs(Buffer.from(view), read.fmt), fmt: read.fmt };
    const isBytes = read.fmt === 'raw' || read.fmt === 'file';
    const value = isBytes ? view : decodeAs(view, read.fmt);
    // Objects count by their encoded size, less the byte strings and typed arrays in them that
    // view the shared bytes (cbor-x decodes aligned ones without a copy); a raw Buffer adds nothing.
    const shares = isBytes ? read.size : deepFreeze(value, read.bytes);
    if (await this.remote.memoryKeep(url, job!, Math.max(0, read.size - shares))) this.decoded.set(url, { value, fmt: read.fmt });
    return { value, fmt: read.fmt };
  }

  private async memoryRead(url: string, job: string): Promise<MemoryRead> {
    const read = unwrap(await this.remote.memoryRead(url, job));
    // Outside a job nothing would release the hold: such reads copy the bytes, so let go now.
    if ('bytes' in read && read.cached) {
      if (job) this.holding.add(job);
      else void this.remote.memoryRelease(job).catch(() => undefined);
    }
    return read;
  }

  async load(urls: string[], nodes?: string[]): Promise<MemoryChange> {
    return unwrap(await this.remote.load(urls, nodes));
  }

  async unload(urls: string[], nodes?: string[]): Promise<MemoryChange> {
    return unwrap(await this.remote.unload(urls, nodes));
  }

  async save(url: string, fmt: DataFormat, source: SaveSource): Promise<DataInfo> {
    // Structured cloning copies a view's whole ArrayBuffer: send only the bytes in view.
    if ('bytes' in source && source.bytes.byteLength !== source.bytes.buffer.byteLength) source = { bytes: new Uint8Array(source.bytes) };
    return unwrap(await this.remote.save(url, fmt, source));
  }

  async read(url: string, range: ReadRange = {}): Promise<{ bytes: Buffer; fmt: DataFormat }> {
    const read = await this.memoryRead(url, taskStorage.getStore()?.jobId ?? '');
    if ('bytes' in read) {
      // The task gets its own copy: the shared bytes are never handed out writable.
      const offset = range.offset ?? 0;
      if (offset > read.size) throw new KsError('bad_request', `offset ${offset} is past the end of ${JSON.stringify(url)} (${read.size} bytes)`);
      const length = Math.min(range.length ?? read.size - offset, read.size - offset);
      return { bytes: Buffer.from(Buffer.from(read.bytes, offset, length)), fmt: read.fmt };
    }
    const { path, fmt } = read;
    if (range.offset === undefined && range.length === undefined) return { bytes: await readFile(path), fmt };
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      const offset = range.offset ?? 0;
      if (offset > size) throw new KsError('bad_request', `offset ${offset} is past the end of ${JSON.stringify(url)} (${size} bytes)`);
      const length = Math.min(range.length ?? size - offset, size - offset);
      const bytes = Buffer.alloc(length);
      await handle.read(bytes, 0, length, offset);
      return { bytes, fmt };
    } finally {
      await handle.close();
    }
  }

  async localPath(url: string): Promise<{ path: string; fmt: DataFormat }> {
    const copy = unwrap(await this.remote.localPath(url));
    return { path: copy.path, fmt: copy.fmt };
  }

  async info(urls: string[]): Promise<DataInfoReport> {
    return unwrap(await this.remote.info(urls));
  }

  async search(glob: string): Promise<string[]> {
    return unwrap(await this.remote.search(glob));
  }

  async delete(url: string, host?: string): Promise<string[]> {
    return unwrap(await this.remote.delete(url, host));
  }

  async reduce(urls: string[], keep: number): Promise<Record<string, string[]>> {
    return unwrap(await this.remote.reduce(urls, keep));
  }

  async checksums(url: string): Promise<Record<string, string | null>> {
    return unwrap(await this.remote.checksums(url));
  }

  async pipeline(url: string): Promise<PipelineReport> {
    return unwrap(await this.remote.pipeline(url));
  }
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { message, code } = outcome.error;
  if (code) throw new KsError(code, message);
  const error = new Error(message);
  error.name = outcome.error.name;
  throw error;
}

/**
 * Freezes objects, arrays, Maps' and Sets' contents in place (typed arrays cannot be frozen and
 * are left as they are). Returns how many bytes of `shared` the views found in it cover.
 */
function deepFreeze(root: unknown, shared: SharedArrayBuffer): number {
  const stack: unknown[] = [root];
  let sharedBytes = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    if (ArrayBuffer.isView(value)) {
      if (value.buffer === shared) sharedBytes += value.byteLength;
      continue;
    }
    if (value === null || typeof value !== 'object' || Object.isFrozen(value)) continue;
    if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) continue;
    Object.freeze(value);
    if (value instanceof Map) for (const [k, v] of value) stack.push(k, v);
    else if (value instanceof Set) for (const v of value) stack.push(v);
    else for (const key of Object.keys(value)) stack.push((value as Record<string, unknown>)[key]);
  }
  return sharedBytes;
}
