import { request } from 'undici';
import type { Registry } from '../../../src/registry.js';
import type { Store } from '../../../src/store/store.js';
import type { HistoryQuery } from '../history/history-query.js';
import type { DashboardNodeView } from './node-view.js';

/** One node as the dashboard lists it. */
export interface DashboardNode {
  name: string;
  url: string;
  /** false: its heartbeat expired (killed or cut off), or it did not answer */
  live: boolean;
  heartbeatAgeMs?: number;
  view?: DashboardNodeView;
  error?: string;
}

/** What every SSE message carries (`GET /ui/api/stream`). */
export interface ClusterSnapshot {
  time: number;
  /** the node that answered */
  from: string;
  nodes: DashboardNode[];
  /** waiting jobs per queue, cluster-wide */
  queues: Record<string, number>;
  history: { entries: number; bytes: number };
}

const PEER_TIMEOUT_MS = 800;

/** Gathers the whole cluster's state: membership from Redis, each live node's own view over HTTP. */
export function clusterViewer(deps: { store: Store; registry: Registry; history: HistoryQuery; nodeName: string; token?: string; ownView: () => Promise<DashboardNodeView> }): () => Promise<ClusterSnapshot> {
  let cached: { at: number; snapshot: Promise<ClusterSnapshot> } | undefined;
  const build = async (): Promise<ClusterSnapshot> => {
    const now = Date.now();
    const [membership, queues, history] = await Promise.all([deps.registry.membership(0), queueLengths(deps.store), deps.history.size()]);
    const live = await Promise.all(membership.live.map(async (info): Promise<DashboardNode> => {
      const base = { name: info.name, url: info.url, heartbeatAgeMs: Math.max(0, now - info.heartbeat) };
      try {
        const view = info.name === deps.nodeName ? await deps.ownView() : await peerView(info.url, deps.token);
        return { ...base, live: true, view };
      } catch (error) {
        return { ...base, live: false, error: `no answer: ${(error as Error).message}` };
      }
    }));
    const lost = membership.lost.map((info): DashboardNode => ({ name: info.name, url: info.url, live: false, error: 'heartbeat expired' }));
    return { time: now, from: deps.nodeName, nodes: [...live, ...lost], queues, history };
  };
  // Several open dashboards share one gathering per half second.
  return () => {
    if (!cached || Date.now() - cached.at > 500) {
      const snapshot = build();
      cached = { at: Date.now(), snapshot };
      snapshot.catch(() => {
        cached = undefined;
      });
    }
    return cached.snapshot;
  };
}

async function queueLengths(store: Store): Promise<Record<string, number>> {
  const names = (await store.queueNames()).sort();
  const lengths = await store.jobs.queueLengths(names);
  return Object.fromEntries(names.map((name, i) => [name, lengths[i]]));
}

async function peerView(url: string, token: string | undefined): Promise<DashboardNodeView> {
  const response = await request(new URL('ui/api/node', url), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    headersTimeout: PEER_TIMEOUT_MS,
    bodyTimeout: PEER_TIMEOUT_MS,
  });
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new Error(`HTTP ${response.statusCode}`);
  }
  return (await response.body.json()) as DashboardNodeView;
}
