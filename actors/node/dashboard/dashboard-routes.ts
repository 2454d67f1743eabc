import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { DataHolder } from '../../data-holder/data-holder.js';
import type { DataInfoReport } from '../../../src/data-protocol.js';
import { VIEW } from '../access.js';
import type { ClusterSnapshot } from './cluster-view.js';
import type { DashboardNodeView } from './node-view.js';

/** The page and its modules (the `ui/` folder of the package, shipped as it is: no build step). */
const UI_DIR = fileURLToPath(new URL('../../../../ui/', import.meta.url));
const UI_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'sse.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
/** Libraries the page imports, served from the package's own dependencies. */
const VENDOR: Record<string, [string, string]> = {
  'preact.mjs': ['preact', 'dist/preact.mjs'],
  'hooks.mjs': ['preact', 'hooks/dist/hooks.mjs'],
  'htm.mjs': ['htm', 'dist/htm.module.js'],
  'uPlot.esm.js': ['uplot', 'dist/uPlot.esm.js'],
  'uPlot.min.css': ['uplot', 'dist/uPlot.min.css'],
};
const SSE_EVERY_MS = 1000;
const MAX_CATALOG_ROWS = 500;

export interface DashboardDeps {
  snapshot: () => Promise<ClusterSnapshot>;
  ownView: () => Promise<DashboardNodeView>;
  dataHolder: DataHolder;
}

const requireHere = createRequire(import.meta.url);

function vendorPath(file: string): string | undefined {
  const entry = VENDOR[file];
  if (!entry) return undefined;
  return join(packageRoot(entry[0]), entry[1]);
}

/** A dependency's folder (from its main entry: not every package exports its package.json). */
function packageRoot(name: string): string {
  const main = requireHere.resolve(name);
  const marker = `${sep}node_modules${sep}${name}${sep}`;
  const at = main.lastIndexOf(marker);
  return at >= 0 ? main.slice(0, at + marker.length) : dirname(main);
}

/**
 * `/ui/` (the dashboard) on every node. The page and its libraries are public (they hold no
 * data: the page asks for the token); everything under `/ui/api/` needs the token like every
 * other route, sent by the page as a bearer header, never in a url (the view-only
 * `--ui-token` opens them too).
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const open = { config: { public: true } };
  app.get('/ui', open, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', open, async (_req, reply) => sendFile(reply, join(UI_DIR, 'index.html'), UI_FILES['index.html']));
  app.get('/ui/:file', open, async (req, reply) => {
    const { file } = req.params as { file: string };
    const type = UI_FILES[file];
    if (!type) return reply.code(404).send({ error: `no file ${file}`, code: 'not_found' });
    return sendFile(reply, join(UI_DIR, file), type);
  });
  app.get('/ui/vendor/:file', open, async (req, reply) => {
    const { file } = req.params as { file: string };
    const path = vendorPath(file);
    if (!path) return reply.code(404).send({ error: `no file ${file}`, code: 'not_found' });
    return sendFile(reply, path, file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');
  });

  app.get('/ui/api/node', VIEW, async () => deps.ownView());
  app.get('/ui/api/snapshot', VIEW, async () => deps.snapshot());

  // Server-sent events, read by the page with fetch (so the token travels in a header).
  app.get('/ui/api/stream', VIEW, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    let closed = false;
    const send = async () => {
      try {
        const snapshot = await deps.snapshot();
        if (!closed) res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
      } catch (error) {
        if (!closed) res.write(`event: problem\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`);
      }
    };
    const timer = setInterval(() => void send(), SSE_EVERY_MS);
    req.raw.on('close', () => {
      closed = true;
      clearInterval(timer);
    });
    void send();
  });

  // The catalog: urls matching a pathSearch glob, with sizes and holders.
  app.get('/ui/api/data', VIEW, async (req) => {
    const glob = (req.query as Record<string, string>).glob || '**';
    const urls = (await deps.dataHolder.ask((r) => ({ type: 'search', glob, reply: r }))).sort();
    const shown = urls.slice(0, MAX_CATALOG_ROWS);
    const report = shown.length > 0 ? await deps.dataHolder.ask((r) => ({ type: 'info', urls: shown, reply: r })) : { hosts: {}, data: {} };
    return {
      total: urls.length,
      data: shown.map((url) => {
        const entry = report.data[url];
        return { url, size: entry?.info?.size ?? null, holders: entry?.holders ?? [], state: entry?.state ?? 'missing', created: entry?.info?.created ?? null };
      }),
    };
  });
}

async function sendFile(reply: import('fastify').FastifyReply, path: string, type: string) {
  return reply.type(type).header('cache-control', 'no-cache').send(await readFile(path));
}
