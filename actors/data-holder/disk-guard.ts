import { statfs } from 'node:fs/promises';
import { KsError } from '../../src/errors.js';

const GiB = 1024 ** 3;

/** The default floor of free space: the larger of 1 GiB and 5% of the disk. */
export async function defaultMinFreeDisk(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return Math.max(GiB, Math.floor(0.05 * stats.blocks * stats.bsize));
}

/**
 * Refuses writes that would leave less than `minFree` bytes free on the data directory's disk
 * (507 `insufficient_storage`): before a write whose size is known, and while any write
 * streams (its bytes are counted against the free space measured when it started).
 */
export class DiskGuard {
  constructor(private readonly dir: string, readonly minFree: number) {}

  async freeBytes(): Promise<number> {
    const stats = await statfs(this.dir);
    return stats.bavail * stats.bsize;
  }

  /** Starts guarding one write; `incoming` is its size when known. */
  async begin(incoming?: number): Promise<(written: number) => void> {
    const free = await this.freeBytes();
    const refuse = (bytesNow: number) => {
      throw new KsError(
        'insufficient_storage',
        `not enough disk space on this node: writing ${bytesNow} bytes would leave ${Math.max(0, free - bytesNow)} bytes free, ` +
        `less than the ${this.minFree} bytes it keeps free (--min-free-disk)`,
      );
    };
    if (free - (incoming ?? 0) < this.minFree) refuse(incoming ?? 0);
    return (written: number) => {
      if (free - written < this.minFree) refuse(written);
    };
  }
}
