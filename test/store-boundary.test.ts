/**
 * `Store` (src/store/) is the only code that talks to Redis (docs/architecture.md §4): no
 * production file outside src/store/ imports ioredis, and the Store keeps its connection
 * private (the compiler holds that part). The check runs on a planted tree too, to show it
 * finds an offender.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { importsOf, sourceFiles } from './helpers/imports.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PRODUCTION = ['index.ts', 'src', 'actors', 'cli'];

/** Files outside src/store/ that import the Redis client. */
function redisOutsideStore(root: string, entries: readonly string[]): string[] {
  return importsOf(root, sourceFiles(root, entries))
    .filter((i) => i.to === 'ioredis' && !i.from.startsWith('src/store/'))
    .map((i) => i.from);
}

test('no production file outside src/store/ imports ioredis', (t) => {
  const files = sourceFiles(ROOT, PRODUCTION);
  t.true(files.includes('src/store/store.ts') && files.includes('actors/node/http-gateway.ts'), 'the sources are found');
  t.true(importsOf(ROOT, ['src/store/store.ts']).some((i) => i.to === 'ioredis'), 'the store itself is seen importing it');
  t.deepEqual(redisOutsideStore(ROOT, PRODUCTION), []);
});

test('the check finds a planted import of ioredis outside src/store/', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ks-store-boundary-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const plant = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  plant('src/store/store.ts', "import { Redis } from 'ioredis';\nexport const r = Redis;\n");
  plant('actors/a.ts', "import type { Redis } from 'ioredis';\nexport type R = Redis;\n");
  t.deepEqual(redisOutsideStore(root, ['src', 'actors']), ['actors/a.ts']);
});
