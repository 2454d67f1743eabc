import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KsError } from '../../src/errors.js';
import { ID_PATTERN } from '../../src/ids.js';

/**
 * Large results stay on the node that computed them (DESIGN §3), as files under
 * `<datadir>/.ks/results/`, until the head node that waits for them takes them.
 */
export class ResultSpill {
  private ready?: Promise<unknown>;

  constructor(readonly dir: string) {}

  private path(id: string): string {
    if (!ID_PATTERN.test(id)) throw new KsError('bad_request', `not a job id: ${JSON.stringify(id.slice(0, 80))}`);
    return join(this.dir, id);
  }

  async write(id: string, bytes: Uint8Array): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const final = this.path(id);
    const temp = `${final}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, final);
  }

  /** Reads a spilled result; with `consume`, removes it once read. */
  async read(id: string, consume: boolean): Promise<Buffer> {
    const path = this.path(id);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new KsError('not_found', `no spilled result for job ${id} on this node`);
      throw error;
    }
    if (consume) await rm(path, { force: true });
    return bytes;
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
          removed++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return removed;
  }
}
