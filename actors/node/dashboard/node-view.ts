import { statfs } from 'node:fs/promises';
import type { NodeMetrics } from '../metrics.js';
import type { NodeStatus } from '../node.js';
import type { HistoryRecorder } from '../history/history-recorder.js';

/** What the dashboard shows of one node (`GET /ui/api/node`). */
export interface DashboardNodeView {
  name: string;
  url: string;
  queues: string[];
  readOnly: boolean;
  time: number;
  threads: number;
  busy: number;
  /** jobs claimed and not finished */
  active: number;
  ok: number;
  failed: number;
  rssBytes: number;
  /** CPU used by the process since the previous view, % of one core */
  cpuPercent: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
  data: NodeStatus['data'];
  /** bytes this node received from each peer since it started */
  copied: { from: string; to: string; bytes: number }[];
  running: { id: string; fn: string; queue: string; started: number }[];
}

const MAX_RUNNING_LISTED = 200;

/** Builds this node's view; CPU is measured between two calls. */
export function nodeViewer(deps: { datadir: string; status: () => Promise<NodeStatus>; recorder: HistoryRecorder; metrics: NodeMetrics }): () => Promise<DashboardNodeView> {
  let last = { cpu: process.cpuUsage(), at: performance.now() };
  return async () => {
    const [status, disk, copied] = await Promise.all([deps.status(), statfs(deps.datadir), copiedBytes(deps.metrics)]);
    const cpu = process.cpuUsage();
    const at = performance.now();
    const usedMs = (cpu.user - last.cpu.user + cpu.system - last.cpu.system) / 1000;
    const cpuPercent = at > last.at ? Math.round((100 * usedMs) / (at - last.at)) : 0;
    last = { cpu, at };
    return {
      name: status.name,
      url: status.url,
      queues: status.queues,
      readOnly: status.readOnly,
      time: Date.now(),
      threads: status.executor.threads,
      busy: status.executor.busy,
      active: status.executor.active,
      ok: deps.recorder.counts.ok,
      failed: deps.recorder.counts.failed,
      rssBytes: process.memoryUsage.rss(),
      cpuPercent,
      diskFreeBytes: disk.bavail * disk.bsize,
      diskTotalBytes: disk.blocks * disk.bsize,
      data: status.data,
      copied,
      running: deps.recorder.runningJobs(MAX_RUNNING_LISTED),
    };
  };
}

async function copiedBytes(metrics: NodeMetrics): Promise<DashboardNodeView['copied']> {
  const metric = metrics.registry.getSingleMetric('ks_data_copied_bytes_total');
  if (!metric) return [];
  const { values } = await metric.get();
  return values.map((v) => ({ from: String(v.labels.from), to: String(v.labels.to), bytes: v.value }));
}
