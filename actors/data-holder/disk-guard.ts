import { statfs } from 'node:fs/promises';
import { KsError } from '../../src/errors.js';

const GiB = 1024 ** 3;

/** The size of the disk holding `dir`, in bytes. */
export async function diskSize(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.blocks * stats.bsize;
}

/** The default floor of free space: the larger of 1 GiB and 5% of the disk. */
export async function defaultMinFreeDisk(dir: string): Promise<number> {
  return Math.max(GiB, Math.floor(0.05 * (await diskSize(dir))));
}

/** One guarded write, from `reserve()` until `end()`. */
export interface DiskReservation {
  /** Throws 507 when this write's `written` bytes so far would take the disk below the floor. */
  check(written: number): void;
  /** The write's file was removed and it starts again into a new one (a copy from another holder). */
  rewind(): void;
  /** The write ended; `kept`: its bytes stay on disk (else its file was removed). */
  end(kept: boolean): void;
}

interface Write {
  /** the size announced, when known: reserved up front */
  size?: number;
  written: number;
  /** `written` when free space was last measured (bytes the measure already saw) */
  measured: number;
}

/**
 * Refuses writes that would leave less than `minFree` bytes free on the data directory's disk
 * (507 `insufficient_storage`), counting every write in progress on the node: a write of
 * announced size reserves it when it starts, and bytes received beyond any reservation count
 * as they arrive. Free space is measured (statfs) when a write starts; bytes written since
 * then are subtracted from that measure, so concurrent writes cannot each spend the same margin.
 */
export class DiskGuard {
  private readonly writes = new Set<Write>();
  /** free bytes at the last measure */
  private free = 0;
  /** bytes written by writes that ended and were kept, since the node started; and at the last measure */
  private settled = 0;
  private settledAtMeasure = 0;
  /** measures started, and the latest one applied (an older answer arriving late is dropped) */
  private measures = 0;
  private applied = 0;

  constructor(private readonly dir: string, readonly minFree: number) {}

  /** Starts guarding one write; `size` is its byte count when known (refused now if it cannot fit). */
  async reserve(size?: number): Promise<DiskReservation> {
    await this.measure();
    const write: Write = { size, written: 0, measured: 0 };
    this.admit(write, 0);
    this.writes.add(write);
    return {
      check: (written) => this.admit(write, written),
      rewind: () => {
        write.written = 0;
        write.measured = 0;
      },
      end: (kept) => {
        if (!this.writes.delete(write)) return;
        if (kept) this.settled += write.written - write.measured;
      },
    };
  }

  private async measure(): Promise<void> {
    // Bytes written while statfs runs may or may not be in its answer: count them as not (safe side).
    const id = ++this.measures;
    const marks = [...this.writes].map((write) => [write, write.written] as const);
    const settled = this.settled;
    const stats = await statfs(this.dir);
    if (id < this.applied) return;
    this.applied = id;
    this.free = stats.bavail * stats.bsize;
    this.settledAtMeasure = settled;
    // min: a write rewound meanwhile starts from 0 again
    for (const [write, written] of marks) write.measured = Math.min(written, write.written);
  }

  /** Lets `write` reach `written` bytes, or throws 507 (the write keeps its previous count). */
  private admit(write: Write, written: number): void {
    const committed = this.committed(write) + Math.max(write.size ?? 0, written) - write.measured;
    const left = this.free - committed;
    if (left < this.minFree) {
      const others = this.committed(write) - (this.settled - this.settledAtMeasure);
      throw new KsError(
        'insufficient_storage',
        `not enough disk space on this node: writing ${Math.max(written, write.size ?? 0)} bytes would leave ${Math.max(0, left)} bytes free` +
        `${others > 0 ? ` (counting ${others} bytes of other writes in progress)` : ''}, less than the ${this.minFree} bytes it keeps free (--min-free-disk)`,
      );
    }
    write.written = Math.max(write.written, written);
  }

  /** Bytes promised to or written by every write but `except` since the last measure. */
  private committed(except: Write): number {
    let total = this.settled - this.settledAtMeasure;
    for (const write of this.writes) {
      if (write !== except) total += Math.max(write.size ?? 0, write.written) - write.measured;
    }
    return total;
  }
}
