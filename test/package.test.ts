/**
 * What `npm pack` ships: the tarball installs into a fresh project, a TypeScript file
 * type-checks against it (NodeNext, strict) and calls a real node, its `ks` runs, and every
 * relative link of README.md and docs/ resolves, in the repository and in the package.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { startNode, type KsNode } from './helpers/cluster.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The markdown files a reader meets: README.md and every page under docs/. */
function markdownFiles(root: string): string[] {
  const docs = join(root, 'docs');
  return [join(root, 'README.md'), ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f))];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const headings = readFileSync(file, 'utf8').split('\n').filter((line) => /^#{1,6} /.test(line));
  return new Set(headings.map((line) => slug(line.replace(/^#+ /, '').replace(/`/g, ''))));
}

/** Every relative link (`[text](target)`, images too) that does not lead to a file or heading under `root`. */
function brokenLinks(root: string): string[] {
  const broken: string[] = [];
  for (const file of markdownFiles(root)) {
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#');
      const linked = path ? resolve(dirname(file), path) : file;
      const where = `${relative(root, file)} → ${target}`;
      if (!linked.startsWith(root) || !existsSync(linked)) broken.push(`${where} (no such file)`);
      else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) broken.push(`${where} (no such heading)`);
    }
  }
  return broken;
}

test('every relative link in README.md and docs/ resolves in the repository', (t) => {
  t.deepEqual(brokenLinks(ROOT.replace(/\/$/, '')), []);
});

let node: KsNode | undefined;
let project: string | undefined;

test.after.always(async () => {
  await node?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

test.serial('the packed tarball installs in a new project, type-checks, calls a node, and its links resolve', async (t) => {
  t.timeout(300_000);
  project = mkdtempSync(join(tmpdir(), 'ks-package-'));
  // dist/ is already built (`npm test` builds first); prepack would rebuild it under the other tests' feet.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: ROOT, maxBuffer: 16 << 20 });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const shipped = files.map((f) => f.path);
  for (const required of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/src/api.js', 'docs/architecture.md', 'bin/ks.js', 'ui/index.html', 'ui/app.js', 'src/store/lua/recordHistory.lua']) {
    t.true(shipped.includes(required), `${required} is in the package`);
  }
  t.deepEqual(shipped.filter((p) => p.startsWith('dist/test') || p.startsWith('dist/benchmarks') || p.startsWith('test/')), [], 'no tests or benchmarks');

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ks-package-check', private: true, type: 'module' }));
  // From the tarball; its dependencies come from npm's cache (filled by `npm ci`), else the registry.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(project, filename)], { cwd: project, maxBuffer: 16 << 20 });
  const installed = join(project, 'node_modules', 'kitchensink');
  t.deepEqual(brokenLinks(installed), [], 'README.md and docs/ links resolve inside the package');

  writeFileSync(join(project, 'main.ts'), `
import { Client, RemoteError, TimeoutError, localityRouter, hostQueue, type Router, type TaskContext } from 'kitchensink';

// The routing API ships typed: a Router composing the default one.
const firstNode: Router = { route: async (call, cluster) => [hostQueue(call.queue, cluster.nodes[0].name), ...(await localityRouter.route(call, cluster))] };
void firstNode;

const c = new Client(process.argv[2], { output: 'silent' });
const square = (x: number) => x * x;
const squared: number = await c.call(square, 7);
// @ts-expect-error a shipped function's arguments are type-checked
c.bc(square, 'seven');
const where = await c.call(async () => {
  const { taskContext } = await import('kitchensink');
  const context: TaskContext = taskContext();
  return context.node.name;
});
let timedOut = false;
try {
  await c.callWith({ timeoutMs: 100 }, () => new Promise(() => undefined));
} catch (error) {
  timedOut = error instanceof TimeoutError && error instanceof RemoteError;
}
await c.close();
console.log(JSON.stringify({ squared, where, timedOut }));
`);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out',
      types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: false,
    },
    files: ['main.ts'],
  }));
  const compiled = await run(process.execPath, [TSC, '-p', project], { cwd: project }).then(() => 'ok', (e: { stdout: string }) => e.stdout);
  t.is(compiled, 'ok', 'main.ts type-checks against the package');

  node = await startNode({ name: 'package-check' });
  const called = await run(process.execPath, [join(project, 'out', 'main.js'), node.url], { cwd: project });
  t.deepEqual(JSON.parse(called.stdout), { squared: 49, where: 'package-check', timedOut: true });

  const ks = await run(join(project, 'node_modules', '.bin', 'ks'), ['status', '--url', node.url, '--json'], { cwd: project });
  t.is((JSON.parse(ks.stdout) as { nodes: { name: string }[] }).nodes[0].name, 'package-check', 'the installed ks runs');
});
