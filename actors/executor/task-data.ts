import { open, readFile } from 'node:fs/promises';
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { setTaskDataBackend, type DataBackend, type ReadRange, type SaveSource } from '../../src/data-backend.js';
import type { DataFormat, DataInfo, DataInfoReport, PipelineReport } from '../../src/data-protocol.js';
import { KsError } from '../../src/errors.js';
// Registers RemoteData's CBOR tag in this thread, so a task's arguments decode to live RemoteData.
import '../../src/remote-data.js';
import type { Outcome, TaskDataApi } from '../data-holder/task-data-api.js';

/**
 * The worker thread's side of remote data: RemoteData methods inside a task go to the node's
 * DataHolder through a comlink proxy on `port`. Reads come back as a local path, and the
 * thread reads the file itself.
 */
export function installTaskData(port: MessagePort, node: { name: string; url: string }): void {
  const remote = Comlink.wrap<TaskDataApi>(nodeEndpoint(port));
  setTaskDataBackend(new TaskDataBackend(remote, node.url));
}

class TaskDataBackend implements DataBackend {
  constructor(private readonly remote: Comlink.Remote<TaskDataApi>, readonly nodeUrl: string) {}

  async save(url: string, fmt: DataFormat, source: SaveSource): Promise<DataInfo> {
    // Structured cloning copies a view's whole ArrayBuffer: send only the bytes in view.
    if ('bytes' in source && source.bytes.byteLength !== source.bytes.buffer.byteLength) source = { bytes: new Uint8Array(source.bytes) };
    return unwrap(await this.remote.save(url, fmt, source));
  }

  async read(url: string, range: ReadRange = {}): Promise<{ bytes: Buffer; fmt: DataFormat }> {
    const { path, fmt } = await this.localPath(url);
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
