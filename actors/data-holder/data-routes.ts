import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CopyReport, DataInfo, DataInfoReport, ImportReport, PipelineReport } from '../../src/data-protocol.js';
import { checkDataFormat, DATA_HEADERS } from '../../src/data-protocol.js';
import { checkDataUrl } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { DataHolder, MemoryChange, OpenedData, ReregisterReport } from './data-holder.js';
import { dataHeaders } from './reads.js';

const urlList = z.array(z.string()).max(100_000);
const dataInfoSchema = z.object({ urls: urlList }).strict();
const reduceSchema = z.object({ urls: urlList, keep: z.number().int().min(1).optional() }).strict();
const nodeList = z.array(z.string().min(1).max(200)).max(10_000);
const memorySchema = z.object({ urls: urlList, nodes: nodeList.optional(), local: z.boolean().optional() }).strict();
const importSchema = z.object({ paths: z.array(z.string().min(1)).min(1).max(100_000), prefix: z.string().min(1).optional(), fmt: z.string().optional() }).strict();
const chainSchema = z.object({ chain: z.array(z.string().min(1).max(200)).max(10_000) }).strict();

/**
 * The DataHolder's HTTP routes (architecture §8 and additions, see docs/architecture.md):
 *
 * - `GET /rpc/data/<url>[?offset=&length=&local=true]`: the bytes, streamed from disk (or
 *   relayed from a holder), with `x-ks-sha256`, `x-ks-size`, `x-ks-fmt`
 * - `POST /rpc/data/<url>[?fmt=]`: a new save, streamed to disk (write-once: 409 if it exists)
 * - `DELETE /rpc/data/<url>[?host=]`: removes one copy, or every copy
 * - `POST /rpc/data-info` `{ urls }`, `GET /rpc/search?glob=`, `POST /rpc/data-reduce` `{ urls, keep }`
 * - `GET /rpc/data-checksums/<url>` (every holder's), `GET /rpc/data-checksum/<url>` (this node's)
 * - `POST /rpc/data-pipeline/<url>`: replicate to every writable node
 * - `POST /rpc/data-load` / `POST /rpc/data-unload` `{ urls, nodes?, local? }`: pin / unpin in memory
 * - `POST /rpc/data-import` `{ paths, prefix?, fmt? }`: register files already in this node's datadir (409 on a conflict)
 * - `POST /rpc/data-reregister`: register again what the catalog lost of this node's datadir
 * - between nodes: `POST /rpc/data-push/<url>` `{ chain }`, `PUT /rpc/data-copy/<url>` (a chain hop)
 */
export function registerDataRoutes(app: FastifyInstance, holder: DataHolder, uploadIdleMs: number): void {
  // The url is checked first, before any body is parsed: a hostile url is always a 400.
  const withUrl = { onRequest: async (request: FastifyRequest) => void wildcard(request) };

  app.get('/rpc/data/*', withUrl, async (request, reply) => {
    const url = wildcard(request);
    const query = request.query as Record<string, string | undefined>;
    const range = { offset: intParam(query.offset, 'offset'), length: intParam(query.length, 'length') };
    const opened = await holder.ask((r) => ({ type: 'open', url, range, localOnly: query.local === 'true', reply: r }));
    void reply
      .headers({ ...dataHeaders(opened.info), 'content-type': 'application/octet-stream', 'content-length': String(opened.length) })
      .send(opened.stream);
    return reply;
  });

  app.delete('/rpc/data/*', withUrl, async (request) => {
    const url = wildcard(request);
    const host = (request.query as Record<string, string | undefined>).host;
    const deleted = await holder.ask((r) => ({ type: 'delete', url, host: host || undefined, reply: r }));
    return { url, deleted };
  });

  app.post('/rpc/data-info', async (request) => {
    const { urls } = dataInfoSchema.parse(request.body);
    return holder.ask((r) => ({ type: 'info', urls, reply: r }));
  });

  app.get('/rpc/search', async (request) => {
    const glob = (request.query as Record<string, string | undefined>).glob;
    if (!glob) throw new KsError('bad_request', 'search needs a glob: /rpc/search?glob=data/*.csv');
    if (glob.length > 2048) throw new KsError('bad_request', 'the glob is longer than 2,048 characters');
    return { urls: await holder.ask((r) => ({ type: 'search', glob, reply: r })) };
  });

  app.post('/rpc/data-reduce', async (request) => {
    const { urls, keep = 1 } = reduceSchema.parse(request.body);
    return { deleted: await holder.ask((r) => ({ type: 'reduce', urls, keep, reply: r })) };
  });

  app.get('/rpc/data-checksum/*', withUrl, async (request) => {
    const url = wildcard(request);
    return { url, sha256: await holder.ask((r) => ({ type: 'checksum', url, reply: r })) };
  });

  app.get('/rpc/data-checksums/*', withUrl, async (request) => {
    const url = wildcard(request);
    return { url, checksums: await holder.ask((r) => ({ type: 'checksums', url, reply: r })) };
  });

  app.post('/rpc/data-pipeline/*', withUrl, async (request) => {
    const url = wildcard(request);
    return holder.ask((r) => ({ type: 'pipeline', url, reply: r }));
  });

  app.post('/rpc/data-load', async (request) => {
    const { urls, nodes, local = false } = memorySchema.parse(request.body);
    return holder.ask((r) => ({ type: 'load', urls, nodes, local, reply: r }));
  });

  app.post('/rpc/data-unload', async (request) => {
    const { urls, nodes, local = false } = memorySchema.parse(request.body);
    return holder.ask((r) => ({ type: 'unload', urls, nodes, local, reply: r }));
  });

  app.post('/rpc/data-import', async (request) => {
    const { paths, prefix, fmt } = importSchema.parse(request.body);
    const report = await holder.ask((r) => ({ type: 'import', paths, prefix, fmt, reply: r }));
    const conflicts = report.results.filter((r) => r.outcome === 'conflict');
    if (conflicts.length > 0) {
      const done = report.results.length - conflicts.length;
      throw new KsError('conflict', `${conflicts.map((c) => (c as { reason: string }).reason).join('; ')} (nothing was overwritten; the ${done} other file(s) were registered)`);
    }
    return report;
  });

  app.post('/rpc/data-reregister', async () => holder.ask((r) => ({ type: 'reregister', reply: r })));

  app.post('/rpc/data-push/*', withUrl, async (request) => {
    const url = wildcard(request);
    const { chain } = chainSchema.parse(request.body);
    return holder.ask((r) => ({ type: 'push', url, chain, reply: r }));
  });

  // Uploads stream: their bodies reach the DataHolder unread, whatever the content type, with
  // no body limit (the disk guard limits them instead).
  void app.register(async (uploads) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    uploads.post('/rpc/data/*', withUrl, async (request) => {
      const url = wildcard(request);
      const query = request.query as Record<string, string | undefined>;
      const fmt = checkDataFormat(query.fmt ?? header(request, DATA_HEADERS.fmt) ?? 'raw');
      const size = contentLength(request);
      const sha256 = header(request, DATA_HEADERS.expectSha256);
      if (sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(sha256)) throw new KsError('bad_request', `${DATA_HEADERS.expectSha256} must be a hex sha256`);
      return holder.ask((r) => ({ type: 'save', request: { url, fmt, source: body(request, uploadIdleMs), size, sha256 }, reply: r }));
    });

    uploads.put('/rpc/data-copy/*', withUrl, async (request) => {
      const url = wildcard(request);
      const chainHeader = header(request, DATA_HEADERS.chain);
      const chain = chainHeader ? chainHeader.split(',').filter(Boolean) : [];
      return holder.ask((r) => ({ type: 'receiveCopy', url, source: body(request, uploadIdleMs), chain, reply: r }));
    });
  });
}

function wildcard(request: FastifyRequest): string {
  return checkDataUrl((request.params as Record<string, string>)['*']);
}

/**
 * The request body, unread. A client that vanishes mid-upload without closing its connection
 * (a machine gone) would otherwise hold the url's claim forever: a socket idle for `idleMs`
 * is destroyed, which fails the write and gives its claim up.
 */
function body(request: FastifyRequest, idleMs: number): Readable {
  const raw = request.raw;
  const socket = raw.socket;
  const onIdle = () => raw.destroy(new Error(`the upload sent nothing for ${idleMs} ms`));
  const done = () => {
    socket.off('timeout', onIdle);
    socket.setTimeout(0);
  };
  socket.setTimeout(idleMs);
  socket.on('timeout', onIdle);
  raw.once('end', done);
  raw.once('close', done);
  return (request.body as Readable | undefined) ?? raw;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(request: FastifyRequest): number | undefined {
  const value = header(request, 'content-length');
  if (value === undefined) return undefined;
  const size = Number(value);
  if (!Number.isSafeInteger(size) || size < 0) throw new KsError('bad_request', `bad content-length ${JSON.stringify(value)}`);
  return size;
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new KsError('bad_request', `${name} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return Number(value);
}
