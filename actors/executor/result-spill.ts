import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KsError } from '../../src/errors.js';
import { ID_PATTERN } from '../../src/ids.js';
import { runtimeLog } from '../../src/log.js';

export interface SpillOptions {
  /** a result not taken within this many ms is written to disk and dropped from memory */
  holdMs: number;
  /** at most this many bytes are held in memory; beyond, the oldest go to disk at once */
  maxHeldBytes: number;
}

export const SPILL_DEFAULTS: SpillOptions = { holdMs: 5_000, maxHeldBytes: 256 * 1024 * 1024 };

interface Held {
  bytes: Uint8Array;
  at: number;
  /** being written to disk: no longer counted in `heldBytes`, still read from memory */
  persisting?: boolean;
}

/**
 * Large results stay on the node that computed them (architecture §3) until the head node that
 * waits for them takes them: in memory for a few seconds (the usual case: the client is
 * streaming and the result is delivered within milliseconds, with no disk at all), then as
 * files under `<datadir>/.ks/results/`, which outlive a restart of the node and are removed
 * once delivered or after the result TTL. Redis records only which node keeps the result.
 */
export class ResultSpill {
  private ready?: Promise<unknown>;
  private readonly held = new Map<string, Held>();
  /** bytes held in memory that are not on their way to disk */
  private heldBytes = 0;
  /** writes under way, by id: a discard waits for them before it removes the file */
  private readonly writing = new Map<string, Promise<void>>();
  /** ids whose file this process wrote or read and nobody removed yet */
  private readonly onDisk = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(readonly dir: string, private readonly options: SpillOptions = SPILL_DEFAULTS) {}

  private path(id: string): string {
    if (!ID_PATTERN.test(id)) throw new KsError('bad_request', `not a job id: ${JSON.stringify(id.slice(0, 80))}`);
    return join(this.dir, id);
  }

  /** Keeps a result in memory; it goes to disk if nobody takes it within `holdMs`. */
  keep(id: string, bytes: Uint8Array): void {
    this.path(id);
    const previous = this.held.get(id);
    if (previous && !previous.persisting) this.heldBytes -= previous.bytes.byteLength;
    this.held.set(id, { bytes, at: Date.now() });
    this.heldBytes += bytes.byteLength;
    // Oldest first (a Map iterates in insertion order).
    for (const [oldId, old] of this.held) {
      if (this.heldBytes <= this.options.maxHeldBytes) break;
      if (!old.persisting) this.persist(oldId);
    }
    if (!this.timer && this.held.size > 0) {
      this.timer = setTimeout(() => this.persistOld(), this.options.holdMs);
      this.timer.unref();
    }
  }

  /** Writes a result to disk now. */
  async write(id: string, bytes: Uint8Array): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const final = this.path(id);
    const temp = `${final}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, final);
    this.onDisk.add(id);
  }

  /** Reads a result, from memory or disk; with `consume`, removes it once read. */
  async read(id: string, consume: boolean): Promise<Uint8Array> {
    const path = this.path(id);
    const held = this.held.get(id);
    if (held) {
      if (consume) this.discard(id);
      return held.bytes;
    }
    await this.writing.get(id);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new KsError('not_found', `no spilled result for job ${id} on this node`);
      throw error;
    }
    if (consume) {
      this.onDisk.delete(id);
      await rm(path, { force: true });
    } else {
      this.onDisk.add(id); // removed by the discard that follows its delivery
    }
    return bytes;
  }

  /** Forgets a delivered result: from memory, and from disk if it was written there. */
  discard(id: string): void {
    const held = this.held.get(id);
    if (held) {
      this.held.delete(id);
      if (!held.persisting) this.heldBytes -= held.bytes.byteLength;
    }
    const writing = this.writing.get(id);
    if (!writing && !this.onDisk.has(id)) return;
    void (async () => {
      await writing;
      this.onDisk.delete(id);
      await rm(this.path(id), { force: true });
    })().catch(() => undefined);
  }

  /** Writes every result still held in memory to disk (the node is stopping). */
  async persistAll(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const id of [...this.held.keys()]) this.persist(id);
    await Promise.allSettled([...this.writing.values()]);
  }

  /** Writes the results held longer than `holdMs` to disk; re-arms while any are held. */
  private persistOld(): void {
    this.timer = undefined;
    const cutoff = Date.now() - this.options.holdMs;
    let next: number | undefined;
    for (const [id, held] of this.held) {
      if (held.persisting) continue;
      if (held.at <= cutoff) this.persist(id);
      else next = Math.min(next ?? held.at, held.at);
    }
    if (next !== undefined) {
      this.timer = setTimeout(() => this.persistOld(), Math.max(1, next + this.options.holdMs - Date.now()));
      this.timer.unref();
    }
  }

  /** Moves a held result to disk. While the write is under way, reads still find it in memory. */
  private persist(id: string): void {
    const held = this.held.get(id);
    if (!held || held.persisting) return;
    held.persisting = true;
    this.heldBytes -= held.bytes.byteLength;
    const write = this.write(id, held.bytes).then(
      () => {
        if (this.held.get(id) === held) this.held.delete(id);
      },
      (error: unknown) => {
        runtimeLog().error({ job: id, err: error }, 'could not write a held result to disk; kept in memory');
        if (this.held.get(id) !== held) return; // discarded meanwhile
        // Kept in memory: it is still taken from there, and a later pass tries again.
        held.persisting = false;
        held.at = Date.now();
        this.heldBytes += held.bytes.byteLength;
        this.timer ??= setTimeout(() => this.persistOld(), this.options.holdMs).unref();
      },
    ).finally(() => this.writing.delete(id));
    this.writing.set(id, write);
  }

  /** Removes results nobody collected within `maxAgeMs`. */
  async sweep(maxAgeMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      try {
        if ((await stat(path)).mtimeMs < cutoff) {
          await rm(path, { force: true });
          this.onDisk.delete(name);
          removed++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return removed;
  }
}
