import type { NodeConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import type { Catalog } from '../../src/store/catalog.js';
import type { DataDir } from './data-dir.js';
import type { DiskGuard } from './disk-guard.js';
import type { Peers } from './peers.js';
import type { NodeMetrics } from '../node/metrics.js';

/** What the DataHolder's parts share: the node's config, its data directory, the catalog, the peers. */
export interface HolderContext {
  config: NodeConfig;
  /** this node's name */
  self: string;
  catalog: Catalog;
  dir: DataDir;
  guard: DiskGuard;
  peers: Peers;
  log: Logger;
  metrics?: NodeMetrics;
}

/** How long a write's claim on a url lasts without renewal (renewed every third of it). */
export const CLAIM_TTL_MS = 30_000;
