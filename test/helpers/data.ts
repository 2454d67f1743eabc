import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/** Every file under a node's data directory, as data urls (`.ks/` left out). */
export function dataFiles(datadir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (prefix === '' && entry.name === '.ks') continue;
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(join(dir, entry.name), name);
      else out.push(name);
    }
  };
  walk(datadir, '');
  return out.sort();
}

/** Files a node is still writing (or left behind): `<datadir>/.ks/tmp/`. */
export function tempFiles(datadir: string): string[] {
  try {
    return readdirSync(join(datadir, '.ks', 'tmp'));
  } catch {
    return [];
  }
}

/** `mb` MiB of bytes that are not all the same, generated as they are read. */
export function generated(mb: number, options: { failAfterMb?: number } = {}): Readable {
  return Readable.from((async function* () {
    for (let i = 0; i < mb; i++) {
      if (options.failAfterMb !== undefined && i === options.failAfterMb) {
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('the client gave up mid-upload');
      }
      const chunk = Buffer.alloc(1 << 20);
      for (let j = 0; j < chunk.length; j += 4096) chunk.writeUInt32LE((i * 7919 + j) >>> 0, j);
      yield chunk;
    }
  })());
}

/** Polls `check` until it returns true (or throws after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A temp directory for the test process's own files (`localPath()` cache, inputs); removed by `cleanup`. */
export function scratchDir(name: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `ks-test-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
