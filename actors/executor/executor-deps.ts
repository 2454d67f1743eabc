import type { MessagePort } from 'node:worker_threads';
import type { Bus } from '../../src/bus.js';
import type { NodeConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import type { Store } from '../../src/store/store.js';
import type { HistoryRecorder } from '../node/history/history-recorder.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { ResultSpill } from './result-spill.js';

/** What the Executor is built with; its parts each take the few they use. */
export interface ExecutorDeps {
  config: NodeConfig;
  store: Store;
  bus: Bus;
  log: Logger;
  spill: ResultSpill;
  /** serves a worker thread's remote-data port (the DataHolder's task API) */
  onDataPort?: (port: MessagePort) => void;
  metrics?: NodeMetrics;
  history?: HistoryRecorder;
}
