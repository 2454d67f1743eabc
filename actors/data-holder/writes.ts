import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DATA_HEADERS, type DataFormat, type DataInfo } from '../../src/data-protocol.js';
import { checkDataUrl, dataUrlPath } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
import type { ClaimOutcome } from '../../src/store/catalog.js';
import { CLAIM_TTL_MS, type HolderContext } from './context.js';
import { formatNotes } from './imports.js';
import { receiveToFile } from './receive-file.js';

/** A new save: bytes streamed from an HTTP upload, a task's buffer, or a file. */
export interface SaveRequest {
  url: string;
  fmt: DataFormat;
  source: Readable;
  /** the byte count announced (Content-Length), when known */
  size?: number;
  /** the sha256 the sender computed, when it did */
  sha256?: string;
}

/**
 * Stores new data (architecture §6): claim the url in the catalog (write-once: one claim per url),
 * stream into a temp file while hashing and guarding the disk, fsync, link into place, and
 * only then record it as ready with this node as its holder. Any failure on the way removes
 * the temp file and gives the claim up, so the url can be saved again.
 */
export async function saveNew(ctx: HolderContext, request: SaveRequest): Promise<DataInfo> {
  const url = checkDataUrl(request.url);
  if (ctx.config.readOnly) return forwardSave(ctx, request);
  const reservation = await ctx.guard.reserve(request.size);
  let kept = false;
  try {
    const info = await claimAndWrite(ctx, url, request, reservation.check);
    kept = true;
    return info;
  } finally {
    reservation.end(kept);
  }
}

async function claimAndWrite(ctx: HolderContext, url: string, request: SaveRequest, check: (written: number) => void): Promise<DataInfo> {
  const token = randomUUID();
  const claim = await ctx.catalog.claim(url, token, ctx.self, CLAIM_TTL_MS);
  if (!claim.ok) throw conflict(url, claim);

  let lost = false;
  const renewal = setInterval(() => {
    ctx.catalog.renew(url, token, CLAIM_TTL_MS).then((held) => {
      if (!held) lost = true;
    }, () => undefined);
  }, CLAIM_TTL_MS / 3);
  const temp = ctx.dir.tempPath();
  let placed = false;
  try {
    const received = await receiveToFile(request.source, temp, { check, expectedSize: request.size, expectedSha256: request.sha256 });
    if (lost) throw lostClaim(url);
    await ctx.dir.place(temp, url);
    placed = true;
    const info: DataInfo = { url, size: received.size, sha256: received.sha256, fmt: request.fmt, created: Date.now(), node: ctx.self };
    if (!(await ctx.catalog.commit(url, token, info))) throw lostClaim(url);
    await formatNotes(ctx).note(info.sha256, info.fmt);
    return info;
  } catch (error) {
    await ctx.dir.removeTemp(temp).catch(() => undefined);
    if (placed) await ctx.dir.remove(url).catch(() => undefined);
    await ctx.catalog.release(url, token).catch((releaseError: unknown) => {
      ctx.log.warn({ err: releaseError, url }, 'could not release a failed write\'s claim; it expires by itself');
    });
    throw error;
  } finally {
    clearInterval(renewal);
  }
}

/** A read-only node stores nothing: a save it receives goes on to a live writable node. */
async function forwardSave(ctx: HolderContext, request: SaveRequest): Promise<DataInfo> {
  const writable = (await ctx.peers.live()).filter((node) => !node.readOnly && node.name !== ctx.self);
  if (writable.length === 0) {
    throw new KsError('unavailable', `node ${ctx.self} is read-only and no live writable node can take the data`);
  }
  const target = writable[Math.floor(Math.random() * writable.length)];
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (request.size !== undefined) headers['content-length'] = String(request.size);
  if (request.sha256) headers[DATA_HEADERS.expectSha256] = request.sha256;
  const response = await ctx.peers.transport(target).requestRaw('POST', `rpc/data/${dataUrlPath(request.url)}?fmt=${request.fmt}`, {
    body: request.source,
    headers,
  });
  return (await response.body.json()) as DataInfo;
}

function conflict(url: string, claim: Exclude<ClaimOutcome, { ok: true }>): KsError {
  const shown = JSON.stringify(url);
  switch (claim.state) {
    case 'ready':
      return new KsError('conflict', `data url ${shown} already exists (saved on node ${claim.node}): data is write-once; delete it first or save to another url`);
    case 'starting':
      return new KsError('conflict', `data url ${shown} is being saved right now (on node ${claim.node}): data is write-once`);
    case 'under':
      return new KsError('conflict', `${JSON.stringify(claim.folder)} is a data url, so ${shown} cannot be saved under it: a data url is a file, not a folder`);
    case 'folder':
      return new KsError('conflict', `${shown} is a folder of other data urls, so it cannot be saved as data itself`);
  }
}

function lostClaim(url: string): KsError {
  return new KsError('conflict', `the write to data url ${JSON.stringify(url)} lost its claim (it stalled past ${CLAIM_TTL_MS} ms); nothing was saved`);
}
