import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, realpath, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { checkDataUrl } from '../../src/data-url.js';
import { KsError } from '../../src/errors.js';

/**
 * The node's data directory: a url is the file's path under it (architecture §6). Every path is
 * built from a checked url (no `..`, no absolute path, no hidden segment, so nothing in
 * `.ks/`), and resolved component by component without following symlinks: a symlink placed
 * inside the directory cannot lead a read or a write outside it. Writes land in `.ks/tmp/`
 * first and are linked into place, which fails if anything is already there (write-once on
 * this node even without the catalog).
 */
export class DataDir {
  private constructor(readonly root: string) {}

  static async open(datadir: string): Promise<DataDir> {
    await mkdir(datadir, { recursive: true });
    const dir = new DataDir(await realpath(datadir));
    // Leftovers of a node that died mid-write, and transient copies of a read-only node.
    await rm(dir.tmpDir, { recursive: true, force: true });
    await rm(dir.cacheDir, { recursive: true, force: true });
    await mkdir(dir.tmpDir, { recursive: true });
    await mkdir(dir.cacheDir, { recursive: true });
    return dir;
  }

  get tmpDir(): string {
    return join(this.root, '.ks', 'tmp');
  }

  /** Where a read-only node keeps the copies its tasks read (never registered, removed at start). */
  get cacheDir(): string {
    return join(this.root, '.ks', 'cache');
  }

  /** A fresh path for a file being written. */
  tempPath(): string {
    return join(this.tmpDir, randomUUID());
  }

  /** The path a url maps to (lexically; nothing is touched). */
  pathOf(url: string): string {
    return join(this.root, ...checkDataUrl(url).split('/'));
  }

  /**
   * Opens the file of a url for reading, or returns null when there is none. Directories on
   * the way and the file itself must not be symlinks (the file is opened with O_NOFOLLOW).
   */
  async openForRead(url: string): Promise<{ handle: FileHandle; size: number; path: string } | null> {
    const path = this.pathOf(url);
    if (!(await this.walkParents(url, false))) return null;
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      if (code === 'ELOOP') throw new KsError('bad_request', `data url ${JSON.stringify(url)} names a symlink, which the node does not follow`);
      throw error;
    }
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return null;
    }
    return { handle, size: stats.size, path };
  }

  /** The local path of a url's file when it exists (and is a regular file, reached without symlinks). */
  async existing(url: string): Promise<string | null> {
    const opened = await this.openForRead(url);
    if (!opened) return null;
    await opened.handle.close();
    return opened.path;
  }

  /**
   * Moves a finished temp file to the url's path: parent directories are created (never
   * through a symlink), the file is hard-linked into place (EEXIST: something is already
   * there) and the temp name removed; the directory is fsynced so the entry survives a crash.
   */
  async place(temp: string, url: string): Promise<string> {
    const path = this.pathOf(url);
    for (let attempt = 0; ; attempt++) {
      await this.walkParents(url, true);
      try {
        await link(temp, path);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new KsError('conflict', `data url ${JSON.stringify(url)} already exists on this node: data is write-once`);
        // A concurrent delete pruned a parent directory we had just made: make it again.
        if (code === 'ENOENT' && attempt < 3) continue;
        throw error;
      }
    }
    await unlink(temp);
    await fsyncDir(dirname(path));
    return path;
  }

  /** Removes a url's file and the directories it leaves empty. Returns false when there was none. */
  async remove(url: string): Promise<boolean> {
    const path = this.pathOf(url);
    if (!(await this.walkParents(url, false))) return false;
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch {
      return false;
    }
    if (!stats.isFile()) throw new KsError('bad_request', `data url ${JSON.stringify(url)} is not a regular file on this node`);
    await unlink(path);
    await this.pruneEmptyParents(path);
    return true;
  }

  async removeTemp(temp: string): Promise<void> {
    await rm(temp, { force: true });
  }

  /**
   * Checks (and with `create`, makes) each directory between the root and the url's file.
   * Returns false when one is missing (and `create` is off). A symlink or a file on the way
   * is a 400: the url cannot be stored or read here.
   */
  private async walkParents(url: string, create: boolean): Promise<boolean> {
    const segments = url.split('/').slice(0, -1);
    let dir = this.root;
    for (const segment of segments) {
      dir = join(dir, segment);
      let stats: Stats;
      try {
        stats = await lstat(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        if (!create) return false;
        try {
          await mkdir(dir);
        } catch (mkdirError) {
          if ((mkdirError as NodeJS.ErrnoException).code !== 'EEXIST') throw mkdirError;
        }
        stats = await lstat(dir);
      }
      if (stats.isSymbolicLink()) {
        throw new KsError('bad_request', `data url ${JSON.stringify(url)} goes through a symlink (${segment}), which the node does not follow`);
      }
      if (!stats.isDirectory()) {
        throw new KsError(create ? 'conflict' : 'bad_request', `data url ${JSON.stringify(url)}: ${dir.slice(this.root.length + 1)} is a file, not a directory`);
      }
    }
    return true;
  }

  private async pruneEmptyParents(path: string): Promise<void> {
    let dir = dirname(path);
    while (dir.startsWith(this.root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, or gone
      }
      dir = dirname(dir);
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
