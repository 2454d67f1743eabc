/**
 * The layers of docs/architecture.md's Layout: `src/` (client, wire formats, runtime core)
 * imports nothing from `actors/` or `cli/`, `actors/` nothing from `cli/`, and neither imports
 * the package entry (`index.ts`, which sits above both); and no file imports itself back
 * through others. The checker is also run on a planted tree, to show it does find both.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { importCycles, importsOf, layerViolations, sourceFiles, type LayerRule } from './helpers/imports.js';

const ROOT = new URL('../../', import.meta.url).pathname;

const RULES: LayerRule[] = [
  { layer: 'src', forbidden: ['actors', 'cli', 'index.ts'] },
  { layer: 'actors', forbidden: ['cli', 'index.ts'] },
];
const PRODUCTION = ['index.ts', 'src', 'actors', 'cli'];

test('src/ imports nothing from actors/ or cli/, actors/ nothing from cli/, neither the package entry', (t) => {
  const files = sourceFiles(ROOT, PRODUCTION);
  t.true(files.includes('src/api.ts') && files.includes('actors/node/node.ts') && files.includes('cli/commands/start.ts'), 'the sources are found');
  const imports = importsOf(ROOT, files);
  t.true(imports.some((i) => i.from === 'actors/node/node.ts' && i.to === 'src/actor.ts'), 'relative imports resolve to files');
  t.deepEqual(layerViolations(imports, RULES), []);
});

test('no import loops among the production sources', (t) => {
  t.deepEqual(importCycles(importsOf(ROOT, sourceFiles(ROOT, PRODUCTION))), []);
});

test('the checker finds a planted layer violation and a planted loop', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ks-layering-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const plant = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  plant('src/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
  plant('src/b.ts', "import { a } from './a.js';\nimport type { N } from '../actors/n.js';\nexport const b = () => a;\nexport type M = N;\n");
  plant('actors/n.ts', "export type N = string;\nexport const load = () => import('../cli/c.js');\n");
  plant('actors/m.ts', "import type { N } from './n.js';\nimport { type N as O } from './n.js';\nexport type P = N | O;\n");
  plant('cli/c.ts', "export { a } from '../src/a.js';\n");
  const imports = importsOf(root, sourceFiles(root, ['src', 'actors', 'cli']));
  t.deepEqual(layerViolations(imports, RULES), ['actors/n.ts → cli/c.ts', 'src/b.ts → actors/n.ts']);
  t.deepEqual(importCycles(imports), ['src/a.ts → src/b.ts → src/a.ts']);
});
