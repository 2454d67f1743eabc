import type { FastifyInstance } from 'fastify';
import type { NodeConfig } from '../../../src/config.js';
import { HISTORY_DEFAULTS } from '../../../src/job-history.js';
import type { Logger } from '../../../src/log.js';
import type { Registry } from '../../../src/registry.js';
import type { Store } from '../../../src/store/store.js';
import { HistoryQuery } from './history-query.js';
import { HistoryRecorder } from './history-recorder.js';
import { clusterHistoryLimits } from './history-settings.js';
import { registerJobRoutes } from './job-routes.js';

/** A node's part of the job history: the recorder the executor feeds, and the routes that read it. */
export interface JobHistory {
  recorder: HistoryRecorder;
  query: HistoryQuery;
  routes(app: FastifyInstance, cancel: (ids: string[]) => Promise<Map<string, string>>): void;
  stop(): void;
}

export async function startJobHistory(deps: { config: NodeConfig; store: Store; registry: Registry; log: Logger }): Promise<JobHistory> {
  const { config, store, registry, log } = deps;
  const limits = await clusterHistoryLimits(store, {
    ttlMs: config.historyTtlMs ?? HISTORY_DEFAULTS.ttlMs,
    maxEntries: config.historyMax ?? HISTORY_DEFAULTS.maxEntries,
    maxBytes: config.historyBytes ?? HISTORY_DEFAULTS.maxBytes,
  }, log);
  const recorder = new HistoryRecorder(store, config.nodeName, limits, log);
  recorder.start();
  const query = new HistoryQuery(store);
  return {
    recorder,
    query,
    routes: (app, cancel) => registerJobRoutes(app, { store, registry, query, recorder, nodeName: config.nodeName, token: config.token, cancel }),
    stop: () => recorder.stop(),
  };
}
