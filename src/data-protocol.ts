import { KsError } from './errors.js';

/**
 * Remote data on the wire (architecture §6): formats, catalog records and the answers of the data
 * routes, shared by the client, the worker threads and the DataHolder.
 */
export type DataFormat = 'cbor' | 'json' | 'raw' | 'file';
export const DATA_FORMATS: readonly DataFormat[] = ['cbor', 'json', 'raw', 'file'];

export function checkDataFormat(fmt: unknown): DataFormat {
  if (typeof fmt === 'string' && (DATA_FORMATS as readonly string[]).includes(fmt)) return fmt as DataFormat;
  throw new KsError('bad_request', `unknown data format ${JSON.stringify(fmt)}: expected one of ${DATA_FORMATS.join(', ')}`);
}

/** The catalog's record of a saved url (`data:info:<url>` once its state is `ready`). */
export interface DataInfo {
  url: string;
  size: number;
  sha256: string;
  fmt: DataFormat;
  /** ms since the epoch */
  created: number;
  /** the node the data was saved to */
  node: string;
}

export type DataState = 'ready' | 'starting' | 'absent';

/** What `dataInfo(urls)` answers: the live hosts, and per url its state, holders and record. */
export interface DataInfoReport {
  /** live nodes: name → url */
  hosts: Record<string, string>;
  /** `memory`: the live nodes holding the url in their memory tier (pinned, or large data read lately) */
  data: Record<string, { state: DataState; holders: string[]; info: DataInfo | null; memory?: Record<string, { pinned: boolean }> }>;
}

/** Response headers of `GET /rpc/data/<url>` (the body is the bytes). */
export const DATA_HEADERS = {
  sha256: 'x-ks-sha256',
  size: 'x-ks-size',
  fmt: 'x-ks-fmt',
  /** on an upload: the sha256 the client computed, checked by the node */
  expectSha256: 'x-ks-expect-sha256',
  /** on a peer copy: the nodes the copy is forwarded to next (comma separated) */
  chain: 'x-ks-chain',
} as const;

/** What `pipeline()` answers: every node that holds the url afterwards, and the nodes a copy failed on. */
export interface PipelineReport {
  holders: string[];
  failed: Record<string, string>;
}

/** Answer of a node that received a peer copy (and forwarded it down the chain). */
export interface CopyReport {
  copied: string[];
  failed: Record<string, string>;
}

/** What registering one file already in a node's data directory did (`ks data import`, healing). */
export type Registered =
  | { url: string; outcome: 'registered'; info: DataInfo }
  /** the catalog had the url with the same sha256: the node was added as a holder */
  | { url: string; outcome: 'added'; info: DataInfo }
  /** the node was already a holder */
  | { url: string; outcome: 'present'; info: DataInfo }
  /** the catalog has the url with other data (or a write holds it): nothing was changed */
  | { url: string; outcome: 'conflict'; reason: string };

export interface ImportReport {
  results: Registered[];
}

/** A node's memory tier (`--memory-cache`): its budget, what it counts, the urls it holds. */
export interface MemoryStats {
  /** the budget (`--memory-cache`) and the bytes counted against it */
  limit: number;
  used: number;
  bytes: { urls: number; size: number };
  pinned: { urls: number; size: number };
  decoded: { objects: number; size: number };
  /** urls held by running tasks now */
  inUse: number;
  /** urls this node holds in memory, with size and whether they are pinned */
  urls: { url: string; size: number; pinned: boolean }[];
}
