import { readdir, readlink, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { markUsed, trimLocalCache } from '../../src/client/local-cache.js';
import { pathExists } from '../../src/path-exists.js';
import { diskSize } from './disk-guard.js';

const GiB = 1024 ** 3;

/**
 * A copy handed to a read counts as in use this long: the task's thread opens it right away,
 * and an open copy is in use for as long as it stays open.
 */
const HANDOFF_MS = 5_000;

/** The default `--cache-max`: the smaller of 10 GiB and 10% of the disk. */
export async function defaultCacheMax(dir: string): Promise<number> {
  return Math.min(10 * GiB, Math.floor(0.1 * (await diskSize(dir))));
}

/**
 * A read-only node's copies of the data its tasks read, `<datadir>/.ks/cache/<sha256>` (verified,
 * never registered as holders): kept within `limit` bytes by removing the least recently used
 * copies, never one a read is using.
 */
export class ReadCache {
  /** path -> when it was last handed to a read (ms) */
  private readonly handedOut = new Map<string, number>();

  constructor(readonly dir: string, readonly limit: number) {}

  /** The cached copy of the data with this sha256, marked used; null when there is none. */
  async get(sha256: string): Promise<string | null> {
    const path = join(this.dir, sha256);
    if (!(await pathExists(path))) return null;
    await markUsed(path);
    this.handedOut.set(path, Date.now());
    return path;
  }

  /** Moves a verified copy (a temp file) into the cache, then trims the cache. Returns its path. */
  async add(temp: string, sha256: string): Promise<string> {
    const path = join(this.dir, sha256);
    await rename(temp, path);
    this.handedOut.set(path, Date.now());
    await trimLocalCache(this.dir, this.limit, await this.inUse());
    return path;
  }

  private async inUse(): Promise<Set<string>> {
    const now = Date.now();
    for (const [path, at] of this.handedOut) {
      if (now - at > HANDOFF_MS) this.handedOut.delete(path);
    }
    return new Set([...this.handedOut.keys(), ...(await openFilesUnder(this.dir))]);
  }
}

/**
 * Files under `dir` this process has open (a task's thread reading a copy), from
 * /proc/self/fd; none where there is no /proc. Removing an open copy would free no space anyway.
 */
async function openFilesUnder(dir: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd').catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith(`${dir}/`));
}
