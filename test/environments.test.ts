import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, KsError } from '../index.js';
import { freePort, runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

/**
 * Named environments (issue 11): `--env NAME=DIR` on two nodes, each with its own version of a
 * package that kitchensink itself also has (`picomatch`): tasks with `env` import their
 * environment's, tasks without it the node's own.
 */
let services: Services;
let nA: KsNode;
let nB: KsNode;
let c: Client;
const root = mkdtempSync(join(tmpdir(), 'ks-envs-'));

/** An npm project whose node_modules holds a fake `picomatch` saying which one it is. */
function makeEnv(name: string, version: string): string {
  const dir = join(root, name);
  const pkg = join(dir, 'node_modules', 'picomatch');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `env-${name}`, version: '1.0.0', dependencies: { picomatch: `file:./pkg-${version}` } }));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'picomatch', version, main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), `module.exports = { fake: ${JSON.stringify(name)}, version: ${JSON.stringify(version)} };\n`);
  // and an ESM-only package (its exports have an `import` entry only)
  const esm = join(dir, 'node_modules', 'esm-only');
  mkdirSync(esm, { recursive: true });
  writeFileSync(join(esm, 'package.json'), JSON.stringify({ name: 'esm-only', version, type: 'module', exports: { '.': { import: './index.js' } } }));
  writeFileSync(join(esm, 'index.js'), `export const env = ${JSON.stringify(name)};\n`);
  return dir;
}

test.before(async () => {
  services = await startServices();
  const a = makeEnv('envA', '100.0.0');
  const b = makeEnv('envB', '200.0.0');
  [nA, nB] = await Promise.all([
    startNode({ name: 'nA', services, flags: ['--env', `e1=${a}`] }),
    startNode({ name: 'nB', services, flags: ['--env', `e2=${b}`, '--env', `e1b=${a}`] }),
  ]);
  c = new Client(nA.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([nA?.stop(), nB?.stop()]);
  await services?.stop();
  rmSync(root, { recursive: true, force: true });
});

const which = async () => {
  const { taskContext } = await import('kitchensink');
  const m = (await import('picomatch')) as unknown as { default: unknown };
  const own = m.default as { fake?: string; version?: string } | ((...args: unknown[]) => unknown);
  return { node: taskContext().node.name, pkg: typeof own === 'function' ? 'node\'s own' : `${own.fake}@${own.version}` };
};

test('tasks in each environment import its version of a package; a task without env imports the node\'s', async (t) => {
  for (let i = 0; i < 3; i++) {
    t.deepEqual(await c.callWith({ env: 'e1' }, which), { node: 'nA', pkg: 'envA@100.0.0' });
    t.deepEqual(await c.callWith({ env: 'e2' }, which), { node: 'nB', pkg: 'envB@200.0.0' });
  }
  const plain = await Promise.all([1, 2, 3, 4].map(() => c.call(which)));
  for (const r of plain) t.is(r.pkg, 'node\'s own');
  const mapped = await c.map(async (i: number) => ({ i, ...(await (async () => {
    const m = (await import('picomatch')) as unknown as { default: { fake: string } };
    return { fake: m.default.fake };
  })()) }), [1, 2, 3], { env: 'e2' });
  t.deepEqual(mapped, [1, 2, 3].map((i) => ({ i, fake: 'envB' })));
  t.is(await c.callWith({ env: 'e2' }, async () => ((await import('esm-only' as string)) as { env: string }).env), 'envB');
  const hosts = await c.hosts();
  t.deepEqual(Object.fromEntries(hosts.map((h) => [h.name, h.envs])), { nA: ['e1'], nB: ['e2', 'e1b'] });
  const status = await runKs(['status', '--url', nA.url, '--wide']);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /environments/);
  t.regex(status.stdout, /e2, e1b/);
});

test('an environment no live node has fails at execute() with no_route naming it', async (t) => {
  const error = await t.throwsAsync(c.callWith({ env: 'nowhere' }, which));
  t.true(error instanceof KsError);
  t.is((error as KsError).code, 'no_route');
  t.regex(error!.message, /environment "nowhere"/);
  const pinned = await t.throwsAsync(c.callWith({ env: 'e2', queue: 'default|nA' }, which));
  t.is((pinned as KsError).code, 'no_route');
});

test('a direct call (async: false) runs in the environment on the node it is sent to, or fails with no_route naming it', async (t) => {
  t.deepEqual(await c.callWith({ async: false, env: 'e1' }, which), { node: 'nA', pkg: 'envA@100.0.0' });
  t.deepEqual(await c.callWith({ async: false }, which), { node: 'nA', pkg: 'node\'s own' });
  // nB has e2, but a direct call is not routed: nA, its head, does not have it.
  const missing = await t.throwsAsync(c.callWith({ async: false, env: 'e2' }, which));
  t.true(missing instanceof KsError);
  t.is((missing as KsError).code, 'no_route');
  t.regex(missing!.message, /node "nA" does not have environment "e2"/);
  const onB = new Client(nB.url, { output: 'silent' });
  try {
    t.deepEqual(await onB.callWith({ async: false, env: 'e2' }, which), { node: 'nB', pkg: 'envB@200.0.0' });
    t.deepEqual(await onB.callWith({ async: false, env: 'e1b' }, which), { node: 'nB', pkg: 'envA@100.0.0' });
  } finally {
    await onB.close();
  }
});

test('a DIR that is not an installed npm project stops ks start with one line', async (t) => {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-envs-bad-'));
  const noModules = join(root, 'no-modules');
  mkdirSync(noModules);
  writeFileSync(join(noModules, 'package.json'), '{}');
  try {
    for (const [value, pattern] of [[`x=${join(root, 'missing')}`, /is not an npm project/], [`x=${noModules}`, /has no node_modules/], ['=oops', /expected NAME=DIR/]] as const) {
      const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort()), '--env', value], { timeoutMs: 20_000 });
      t.not(run.code, 0);
      t.regex(run.stderr, pattern);
      t.is(run.stderr.trim().split('\n').filter((line) => line.includes('--env')).length, 1, run.stderr);
    }
  } finally {
    rmSync(datadir, { recursive: true, force: true });
  }
});
