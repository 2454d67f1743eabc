import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDataFormat, type DataFormat, type DataInfo, type ImportReport, type Registered } from '../../src/data-protocol.js';
import { checkDataUrl } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';
export type { ImportReport, Registered };
import { CLAIM_TTL_MS, type HolderContext } from './context.js';
import { hashFile } from './receive-file.js';

/**
 * Registers a file already in the node's data directory as the url of its path (issue 11:
 * data that arrived by rsync, or whose catalog entry Redis lost), exactly as a save would:
 * claim the url, hash the file, commit it ready with this node as holder. A url the catalog
 * knows with the same sha256 gets this node as a holder; with another, it is a conflict and
 * nothing is overwritten.
 */
export async function registerFile(ctx: HolderContext, url: string, fmt: DataFormat | undefined): Promise<Registered> {
  checkDataUrl(url);
  const opened = await ctx.dir.openForRead(url);
  if (!opened) throw new KsError('not_found', `there is no file ${JSON.stringify(url)} in the data directory of node ${ctx.self}`);
  const { sha256, size } = await hashFile(opened.handle.createReadStream({ highWaterMark: 1 << 20 }));
  const format = fmt ?? (await formatNotes(ctx).get(sha256)) ?? 'file';

  for (let attempt = 0; attempt < 3; attempt++) {
    const entry = await ctx.catalog.entry(url);
    if (entry.state === 'ready' && entry.info) {
      if (entry.info.sha256 !== sha256) {
        return { url, outcome: 'conflict', reason: `data url ${JSON.stringify(url)} exists with sha256 ${entry.info.sha256} (saved on node ${entry.info.node}); this node's file has ${sha256}` };
      }
      if (entry.holders.includes(ctx.self)) return { url, outcome: 'present', info: entry.info };
      if (await ctx.catalog.addHolder(url, ctx.self, sha256)) {
        await formatNotes(ctx).note(sha256, entry.info.fmt);
        return { url, outcome: 'added', info: entry.info };
      }
      continue; // deleted meanwhile: try again
    }
    if (entry.state === 'starting') return { url, outcome: 'conflict', reason: `data url ${JSON.stringify(url)} is being saved right now (on node ${entry.writer})` };
    const token = randomUUID();
    const claim = await ctx.catalog.claim(url, token, ctx.self, CLAIM_TTL_MS);
    if (!claim.ok) {
      if (claim.state === 'ready') continue;
      const reason = claim.state === 'under' ? `${JSON.stringify(claim.folder)} is a data url, so ${JSON.stringify(url)} cannot be data under it`
        : claim.state === 'folder' ? `${JSON.stringify(url)} is a folder of other data urls` : `data url ${JSON.stringify(url)} is being saved right now (on node ${claim.node})`;
      return { url, outcome: 'conflict', reason };
    }
    const info: DataInfo = { url, size, sha256, fmt: format, created: Date.now(), node: ctx.self };
    if (!(await ctx.catalog.commit(url, token, info))) {
      await ctx.catalog.release(url, token).catch(() => undefined);
      return { url, outcome: 'conflict', reason: `the claim on ${JSON.stringify(url)} was lost while the file was hashed` };
    }
    await formatNotes(ctx).note(sha256, format);
    return { url, outcome: 'registered', info };
  }
  return { url, outcome: 'conflict', reason: `data url ${JSON.stringify(url)} kept changing while it was registered` };
}

/**
 * `ks data import`: each path (relative to the data directory, under `prefix` when given) is
 * a file, or a folder whose files are all imported.
 */
export async function importPaths(ctx: HolderContext, paths: string[], options: { prefix?: string; fmt?: string }): Promise<ImportReport> {
  if (ctx.config.readOnly) throw new KsError('bad_request', `node ${ctx.self} is read-only: it registers no data`);
  const fmt = options.fmt === undefined ? undefined : checkDataFormat(options.fmt);
  const results: Registered[] = [];
  for (const path of paths) {
    const url = checkDataUrl(options.prefix ? `${options.prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}` : path);
    const opened = await ctx.dir.openForRead(url);
    if (opened) {
      await opened.handle.close();
      results.push(await registerFile(ctx, url, fmt ?? 'file'));
      continue;
    }
    const files = await filesUnder(join(ctx.dir.root, ...url.split('/')), url);
    if (files.length === 0) throw new KsError('not_found', `there is no file or folder ${JSON.stringify(url)} in the data directory of node ${ctx.self}`);
    for (const file of files) results.push(await registerFile(ctx, file, fmt ?? 'file'));
  }
  return { results };
}

/**
 * The catalog heals (issue 11): every file of the data directory (`.ks/` and hidden names
 * skipped) whose url the catalog has no ready record of, or does not list this node for, is
 * registered again. The format comes from the note the node kept when the data was saved or
 * copied here (`.ks/formats/<sha256>`), else `file`.
 */
export async function reregisterAll(ctx: HolderContext): Promise<{ files: number; registered: number; added: number; conflicts: string[] }> {
  const report = { files: 0, registered: 0, added: 0, conflicts: [] as string[] };
  if (ctx.config.readOnly) return report;
  const urls = await filesUnder(ctx.dir.root, '');
  report.files = urls.length;
  for (let i = 0; i < urls.length; i += 500) {
    const batch = urls.slice(i, i + 500);
    const entries = await ctx.catalog.lookup(batch);
    for (const url of batch) {
      const entry = entries.get(url)!;
      if (entry.state === 'ready' && entry.holders.includes(ctx.self)) continue;
      try {
        const result = await registerFile(ctx, url, undefined);
        if (result.outcome === 'registered') report.registered++;
        else if (result.outcome === 'added') report.added++;
        else if (result.outcome === 'conflict') report.conflicts.push(url);
      } catch (error) {
        ctx.log.warn({ url, err: error }, 'could not register a file of the data directory');
      }
    }
  }
  return report;
}

/** Data urls of the files under `dir` (url prefix `base`), skipping hidden names, symlinks and bad urls. */
async function filesUnder(dir: string, base: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const url = base ? `${base}/${entry.name}` : entry.name;
    try {
      checkDataUrl(url);
    } catch {
      continue;
    }
    if (entry.isDirectory()) found.push(...(await filesUnder(join(dir, entry.name), url)));
    else if (entry.isFile()) found.push(url);
  }
  return found.sort();
}

/**
 * The format of data this node holds, noted on disk by sha256 (`.ks/formats/<sha256>`): the
 * catalog keeps it, but a catalog that lost its data must get it back from somewhere.
 */
export function formatNotes(ctx: HolderContext): { note(sha256: string, fmt: DataFormat): Promise<void>; get(sha256: string): Promise<DataFormat | undefined> } {
  const dir = join(ctx.dir.root, '.ks', 'formats');
  return {
    async note(sha256, fmt) {
      if (fmt === 'file') return;
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, sha256), fmt);
      } catch (error) {
        ctx.log.warn({ err: error, sha256 }, 'could not note a data format on disk');
      }
    },
    async get(sha256) {
      try {
        return checkDataFormat((await readFile(join(dir, sha256), 'utf8')).trim());
      } catch {
        return undefined;
      }
    },
  };
}
