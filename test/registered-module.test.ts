import test from 'ava';
import { Client, KsError, RemoteError, type OutputEvent } from '../index.js';
import { runKs, startNode, type KsNode } from './helpers/cluster.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE = new URL('./fixtures/registered-functions.js', import.meta.url).pathname;
let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'registered', workers: 2, flags: ['--module', MODULE] });
});

test.after.always(async () => {
  await node?.stop();
});

function newClient(t: { teardown(fn: () => unknown): void }, seen?: OutputEvent[]): Client {
  const c = new Client(node.url, { output: seen ? (e) => seen.push(e) : 'silent' });
  t.teardown(() => c.close());
  return c;
}

test('a node started with --module serves its exports by name', async (t) => {
  const c = newClient(t);
  c.bc('parse', 'a=1;b=2');
  c.bc('parse', 'x=y');
  const ids = await c.execute();
  t.is(ids.length, 2);
  t.deepEqual(await c.br(), [{ a: '1', b: '2' }, { x: 'y' }]);
});

test('async registered functions resolve to their value', async (t) => {
  const c = newClient(t);
  c.bc('slowDouble', 21);
  c.bc('slowDouble', 0.5);
  t.deepEqual(await c.br(), [42, 1]);
  t.deepEqual(await c.map('slowDouble', [1, 2, 3]), [2, 4, 6]);
  t.is(await c.call('slowDouble', 4), 8);
});

test('registered functions may use their module scope: the closure check is for shipped ones', async (t) => {
  const c = newClient(t);
  c.bc('scaled', 2);
  t.deepEqual(await c.br(), [6]);
  t.is(await c.callWith({ async: false }, 'scaled', 5), 15);
});

test('registered and shipped functions mix in one batch', async (t) => {
  const c = newClient(t);
  c.bc('parse', 'k=v');
  c.bc((x: number) => x + 1, 1);
  c.bc('slowDouble', 5);
  t.deepEqual(await c.br(), [{ k: 'v' }, 2, 10]);
});

test('an unknown name fails at execute() with the list of registered names', async (t) => {
  const c = newClient(t);
  c.bc('parse', 'a=1');
  c.bc('nosuchfunction', 1);
  const error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(error!.code, 'unknown_function');
  t.is(error!.status, 400);
  t.is(error!.message, 'call 1: unknown function "nosuchfunction": not registered on the live nodes; registered functions: chatty, failing, parse, scaled, slowDouble, whereAmI');
  // A non-function export is not callable either.
  const notAFunction = await t.throwsAsync(c.call('version'), { instanceOf: KsError });
  t.is(notAFunction!.code, 'unknown_function');
  t.deepEqual(await c.br(), [], 'nothing of the refused batch was submitted');
});

test('output and errors of registered functions come back like those of shipped ones', async (t) => {
  const seen: OutputEvent[] = [];
  const c = newClient(t, seen);
  c.bc('chatty', 3);
  const [id] = await c.execute();
  t.deepEqual(await c.br(), [3]);
  t.deepEqual(seen.filter((e) => e.jobId === id).map((e) => e.text).join(''), 'registered line 0\nregistered line 1\nregistered line 2\n');
  const error = await t.throwsAsync(c.call('failing', 'on purpose'), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'RangeError');
  t.is(error!.message, 'registered failure: on purpose');
  t.regex(error!.remoteStack!, /at failing \(file:\/\/.*registered-functions\.js:\d+:\d+\)/);
  t.notRegex(error!.message, /Shipped functions/, 'no closure hint for registered functions');
});

test('registered functions see their taskContext() through import("kitchensink")', async (t) => {
  const c = newClient(t);
  c.bc('whereAmI');
  const [id] = await c.execute();
  t.deepEqual(await c.br(), [{ jobId: id, queue: 'default', node: 'registered' }]);
});

test('callWith({ async: false }) runs registered functions too; an unknown name is refused', async (t) => {
  const c = newClient(t);
  t.deepEqual(await c.callWith({ async: false }, 'parse', 'q=1'), { q: '1' });
  t.like(await c.callWith({ async: false }, 'whereAmI'), { queue: '', node: 'registered' });
  const error = await t.throwsAsync(c.callWith({ async: false }, 'nosuchfunction'), { instanceOf: KsError });
  t.is(error!.code, 'unknown_function');
  t.is(error!.message, 'unknown function "nosuchfunction": not registered on this node; registered functions: chatty, failing, parse, scaled, slowDouble, whereAmI');
});

test('hosts() lists the registered functions of each node', async (t) => {
  const c = newClient(t);
  const [host] = await c.hosts();
  t.deepEqual(host.functions, ['chatty', 'failing', 'parse', 'scaled', 'slowDouble', 'whereAmI']);
});

test('a node without --module refuses registered calls with a clear message', async (t) => {
  const plain = await startNode({ name: 'plain' });
  t.teardown(() => plain.stop());
  const c = new Client(plain.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc('parse', 'a=1');
  const error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(error!.message, 'call 0: unknown function "parse": not registered on the live nodes (no function is registered: a node registers the functions its --module file exports)');
  const direct = await t.throwsAsync(c.callWith({ async: false }, 'parse', 'a=1'), { instanceOf: KsError });
  t.is(direct!.code, 'unknown_function');
  t.is(direct!.message, 'unknown function "parse": not registered on this node (no function is registered: a node registers the functions its --module file exports)');
});

test('a --module that cannot be loaded or exports no function stops ks start with a clear message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-module-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'empty.mjs'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'broken.mjs'), 'export function ( {\n');
  const empty = await runKs(['start', '--datadir', join(dir, 'data'), '--node-port', '1', '--module', join(dir, 'empty.mjs')]);
  t.is(empty.code, 1);
  t.regex(empty.stderr, /^ks start: --module .*empty\.mjs exports no functions$/m);
  const broken = await runKs(['start', '--datadir', join(dir, 'data'), '--node-port', '1', '--module', join(dir, 'broken.mjs')]);
  t.is(broken.code, 1);
  t.regex(broken.stderr, /^ks start: --module .*broken\.mjs could not be loaded: Function statements require a function name$/m);
  const missing = await runKs(['start', '--datadir', join(dir, 'data'), '--node-port', '1', '--module', join(dir, 'missing.mjs')]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^ks start: --module .*missing\.mjs could not be loaded: Cannot find module/m);
});

test('new Client<typeof import(module)>(url) types registered names: their arguments and results (futures too)', async (t) => {
  const c = new Client<typeof import('./fixtures/registered-functions.js')>(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const doubled: number = await c.call('slowDouble', 4);
  t.is(doubled, 8);
  const parsed: Record<string, string> = await c.submit('parse', 'a=1');
  t.deepEqual(parsed, { a: '1' });
  // a future of a registered call feeds another, typed
  const scaled = c.submit('scaled', c.submit('slowDouble', 1));
  t.is(await scaled, 6); // (1 × 2) × 3
  // @ts-expect-error slowDouble takes a number (at run time, 'four' * 2 is NaN)
  t.true(Number.isNaN(await c.call('slowDouble', 'four')));
  // @ts-expect-error not a function this module exports
  await t.throwsAsync(c.call('noSuchFunction', 1), { message: /unknown function/ });
  // @ts-expect-error version is not a function
  c.bc('version');
  await c.cancelAll(); // drops what was recorded
  // shipped functions are still checked too
  // @ts-expect-error x => x * 2 takes a number
  c.submit((x: number) => x * 2, 'two').release();
  t.pass();
});
