import type { FastifyInstance } from 'fastify';
import type { NodeConfig } from '../../../src/config.js';
import type { Registry } from '../../../src/registry.js';
import type { Store } from '../../../src/store/store.js';
import type { DataHolder } from '../../data-holder/data-holder.js';
import type { JobHistory } from '../history/job-history.js';
import type { NodeMetrics } from '../metrics.js';
import type { NodeStatus } from '../node.js';
import { clusterViewer } from './cluster-view.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { nodeViewer } from './node-view.js';

/** The dashboard's routes on this node (docs/dashboard.md). */
export function registerDashboard(app: FastifyInstance, deps: {
  config: NodeConfig;
  store: Store;
  registry: Registry;
  metrics: NodeMetrics;
  history: JobHistory;
  dataHolder: DataHolder;
  status: () => Promise<NodeStatus>;
}): void {
  const ownView = nodeViewer({ datadir: deps.config.datadir, status: deps.status, recorder: deps.history.recorder, metrics: deps.metrics });
  const snapshot = clusterViewer({ store: deps.store, registry: deps.registry, history: deps.history.query, nodeName: deps.config.nodeName, token: deps.config.token, ownView });
  registerDashboardRoutes(app, { snapshot, ownView, dataHolder: deps.dataHolder });
}
