import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { KsError } from '../../../src/errors.js';
import type { JobFilter, JobHistoryEntry, LiveJob } from '../../../src/job-history.js';
import type { Registry } from '../../../src/registry.js';
import type { Store } from '../../../src/store/store.js';
import { VIEW } from '../access.js';
import type { HistoryQuery } from './history-query.js';
import { FLUSH_EVERY_MS, type HistoryRecorder } from './history-recorder.js';

export interface JobRoutesDeps {
  store: Store;
  registry: Registry;
  query: HistoryQuery;
  recorder: HistoryRecorder;
  nodeName: string;
  token?: string;
  /** cancels jobs (the Executor's `cancel`) */
  cancel: (ids: string[]) => Promise<Map<string, string>>;
}

/**
 * Job history and job control: `GET /rpc/jobs` (the history, filtered), `GET /rpc/job/<id>`
 * (one job: its history entry, or, while it runs, its output so far from the node running
 * it), `POST /rpc/cancel-all` (every queued and running job of the cluster).
 */
export function registerJobRoutes(app: FastifyInstance, deps: JobRoutesDeps): void {
  app.get('/rpc/jobs', VIEW, async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const filter: JobFilter = {
      failed: q.failed === 'true' || q.failed === '1',
      queue: q.queue || undefined,
      node: q.node || undefined,
      since: q.since ? numberParam('since', q.since) : undefined,
      search: q.search || undefined,
      limit: q.limit ? numberParam('limit', q.limit) : undefined,
    };
    return { jobs: await deps.query.list(filter), ...(await deps.query.size()) };
  });

  app.get('/rpc/job/:id', VIEW, async (req): Promise<JobHistoryEntry | LiveJob> => {
    const { id } = req.params as { id: string };
    const entry = await deps.query.get(id);
    if (entry) return entry;
    const job = await deps.store.jobs.record(id);
    if (job?.status === 'running' && job.node) {
      if (job.node === deps.nodeName || (req.query as Record<string, string>).local === 'true') {
        return { id, outcome: 'running', node: job.node, started: job.started ?? undefined, ...deps.recorder.tail(id) };
      }
      return fromNode(deps, job.node, id);
    }
    if (job?.status === 'queued') return { id, outcome: 'queued', output: '', outputChars: 0 };
    // Finished a moment ago: its entry may be on its way (a node writes its finished jobs'
    // entries every FLUSH_EVERY_MS).
    for (let wait = 0; wait < 4; wait++) {
      await new Promise((resolve) => setTimeout(resolve, FLUSH_EVERY_MS));
      const again = await deps.query.get(id);
      if (again) return again;
    }
    throw new KsError('not_found', `no job ${id} in the history (never submitted, or its entry expired or was pushed out: see --history-ttl, --history-max)`);
  });

  app.post('/rpc/cancel-all', async () => {
    const queues = await deps.store.queueNames();
    const nodes = await deps.registry.liveNodes(0);
    const ids = await deps.store.jobs.queuedOrRunning(queues, nodes.map((node) => node.name));
    const before = ids.length > 0 ? await deps.cancel(ids) : new Map<string, string>();
    const cancelled = [...before].filter(([, state]) => state === 'queued' || state === 'running').map(([id]) => id);
    return { cancelled };
  });
}

function numberParam(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new KsError('bad_request', `${name} must be a number, not ${JSON.stringify(text)}`);
  return value;
}

/** A running job's output lives in the memory of the node running it. */
async function fromNode(deps: JobRoutesDeps, node: string, id: string): Promise<LiveJob> {
  const info = (await deps.registry.liveNodes()).find((n) => n.name === node);
  if (!info) return { id, outcome: 'running', node, output: '', outputChars: 0 };
  const response = await request(new URL(`rpc/job/${encodeURIComponent(id)}?local=true`, info.url), {
    headers: deps.token ? { authorization: `Bearer ${deps.token}` } : {},
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  if (response.statusCode !== 200) {
    await response.body.dump();
    return { id, outcome: 'running', node, output: '', outputChars: 0 };
  }
  return (await response.body.json()) as LiveJob;
}
