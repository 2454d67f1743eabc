import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { parseByteSize } from '../byte-size.js';
import { KsError } from '../errors.js';

/**
 * The client's cache of verified copies that `localPath()` returns, one file per sha256. It is
 * kept within `KS_DATA_CACHE_MAX` bytes by removing the least recently used copies.
 */

const DEFAULT_LIMIT = 10 * 1024 ** 3;
const COPY_NAME = /^[0-9a-f]{64}$/;

export function localDataCache(): string {
  return process.env.KS_DATA_CACHE ?? join(tmpdir(), `kitchensink-cache-${safeUser()}`);
}

export function localDataCacheLimit(): number {
  const text = process.env.KS_DATA_CACHE_MAX;
  if (text === undefined || text.trim() === '') return DEFAULT_LIMIT;
  try {
    return parseByteSize(text);
  } catch (error) {
    throw new KsError('bad_request', `KS_DATA_CACHE_MAX: ${(error as Error).message}`);
  }
}

/** Marks a cached copy as just used, so that trimming removes it last. */
export async function markUsed(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}

/**
 * Removes the least recently used copies until the cache holds at most `limit` bytes; copies
 * in `keep` (the copy just returned, copies in use) are never removed, even when they alone
 * are over the limit. Returns the paths removed.
 */
export async function trimLocalCache(dir: string, limit: number, keep: ReadonlySet<string>): Promise<string[]> {
  const copies: { path: string; size: number; used: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !COPY_NAME.test(entry.name)) continue;
    const path = join(dir, entry.name);
    const stats = await stat(path).catch(() => undefined);
    if (stats) copies.push({ path, size: stats.size, used: stats.mtimeMs });
  }
  let total = copies.reduce((sum, copy) => sum + copy.size, 0);
  const removed: string[] = [];
  for (const copy of copies.sort((a, b) => a.used - b.used)) {
    if (total <= limit) break;
    if (keep.has(copy.path)) continue;
    await rm(copy.path, { force: true });
    total -= copy.size;
    removed.push(copy.path);
  }
  return removed;
}

function safeUser(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_-]/g, '-');
  } catch {
    return String(process.getuid?.() ?? 'user');
  }
}
