import type { DataFormat, DataInfo, DataInfoReport, PipelineReport } from './data-protocol.js';

/** What a save sends: bytes in memory, or a local file streamed from disk. */
export type SaveSource = { bytes: Uint8Array } | { path: string };

export interface TransferOptions {
  /** called as bytes move: done so far, and the total when known */
  onProgress?: (done: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export interface ReadRange {
  offset?: number;
  length?: number;
}

/**
 * How RemoteData and the Client's data methods reach the cluster. In a user's process this is
 * HTTP to a node (src/client/data-http.ts); inside a task it is the node's DataHolder, over a
 * MessagePort (actors/executor/task-data.ts).
 */
export interface DataBackend {
  /** the url of the node this backend talks to */
  readonly nodeUrl: string;
  save(url: string, fmt: DataFormat, source: SaveSource, options?: TransferOptions): Promise<DataInfo>;
  /** the bytes (a full read is checked against the catalog's sha256) and the format */
  read(url: string, range?: ReadRange): Promise<{ bytes: Buffer; fmt: DataFormat }>;
  /** a local file holding the data */
  localPath(url: string): Promise<{ path: string; fmt: DataFormat }>;
  info(urls: string[]): Promise<DataInfoReport>;
  search(glob: string): Promise<string[]>;
  /** removes the copy on `host`, or every copy; returns the hosts whose copy was removed */
  delete(url: string, host?: string): Promise<string[]>;
  /** keeps `keep` copies of each url; returns the hosts whose copy was removed, per url */
  reduce(urls: string[], keep: number): Promise<Record<string, string[]>>;
  /** sha256 of each holder's copy as read from its disk (null: the holder could not say) */
  checksums(url: string): Promise<Record<string, string | null>>;
  pipeline(url: string): Promise<PipelineReport>;
  /** pins urls in memory on their holders (with `nodes`: on those nodes, copying them there first) */
  load(urls: string[], nodes?: string[]): Promise<MemoryChange>;
  /** unpins urls (on `nodes`, or on every live node) */
  unload(urls: string[], nodes?: string[]): Promise<MemoryChange>;
  /**
   * The decoded data, when the backend keeps decoded objects (inside a task: shared and
   * read-only unless `copy`); absent elsewhere, where RemoteData decodes what `read` gives.
   */
  object?(url: string, copy: boolean): Promise<{ value: unknown; fmt: DataFormat }>;
}

/** Per node, the urls a load pinned (or an unload unpinned) there. */
export interface MemoryChange {
  nodes: Record<string, string[]>;
}

let taskBackend: DataBackend | undefined;

/** Set once by a worker thread: the backend of the node it runs on. */
export function setTaskDataBackend(backend: DataBackend): void {
  taskBackend = backend;
}

/** Inside a task thread, the node's DataHolder; elsewhere undefined. */
export function taskDataBackend(): DataBackend | undefined {
  return taskBackend;
}
