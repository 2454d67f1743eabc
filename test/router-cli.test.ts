/**
 * `ks start --router PATH` (alias `--scheduler`): the module's default export is told apart by
 * shape, not class. A plain-object Router that does not import kitchensink at all routes the
 * head's calls where it says; a module exporting anything else stops `ks start` with one line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, Scheduler } from '../index.js';
import { loadScheduling } from '../cli/scheduling-module.js';
import { runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.js`, import.meta.url).pathname;
const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

test('the default export is taken by shape: an object or class with route is a Router, an actor a Scheduler', async (t) => {
  const plain = await loadScheduling(fixture('plain-router'));
  t.is(typeof plain.router?.route, 'function');
  t.is(plain.scheduler, undefined);
  const fromClass = await loadScheduling(fixture('class-router'));
  t.is(fromClass.router?.constructor.name, 'LastNodeRouter', 'a class is instantiated');
  const subclass = await loadScheduling(fixture('everywhere-scheduler'));
  t.true(subclass.scheduler instanceof Scheduler, 'a Scheduler subclass is instantiated and taken whole');
  t.is(subclass.router, undefined);
  const neither = await t.throwsAsync(loadScheduling(fixture('not-a-router')));
  t.is(neither!.message, `--router ${fixture('not-a-router')}: the default export must be a Router (an object with route(call, cluster)) or a Scheduler (an actor with ask, tell and attach), or a class of either; found an object with name, routes`);
});

let services: Services | undefined;
let head: KsNode | undefined;
let other: KsNode | undefined;

test.after.always(async () => {
  await Promise.all([head, other].map((n) => n?.stop()));
  await services?.stop();
});

test.serial('--router with a module that does not import kitchensink routes every call where it says', async (t) => {
  services = await startServices();
  // The head routes; the Router sends everything to the last node by name: zz-other.
  [head, other] = await Promise.all([
    startNode({ name: 'aa-head', services, workers: 2, flags: ['--router', fixture('plain-router')] }),
    startNode({ name: 'zz-other', services, workers: 2 }),
  ]);
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  const where = async () => (await import('kitchensink')).taskContext().node.name;
  for (let i = 0; i < 6; i++) c.bc(where);
  const ids = await c.execute();
  t.deepEqual((await c.status(ids[0])).queues, ['default|zz-other'], 'the one queue the Router chose');
  t.deepEqual(await c.br(), Array(6).fill('zz-other'));
});

test.serial('--scheduler is an alias of --router; a module exporting neither fails ks start with one line', async (t) => {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-router-'));
  t.teardown(() => rmSync(datadir, { recursive: true, force: true }));
  for (const flag of ['--router', '--scheduler']) {
    const run = await runKs(['start', '--datadir', datadir, '--node-port', '1', flag, fixture('not-a-router')]);
    t.is(run.code, 1);
    t.deepEqual(lines(run.stderr), [
      `ks start: --router ${fixture('not-a-router')}: the default export must be a Router (an object with route(call, cluster)) or a Scheduler (an actor with ask, tell and attach), or a class of either; found an object with name, routes`,
    ]);
  }
  const missing = await runKs(['start', '--datadir', datadir, '--router', join(datadir, 'nope.js')]);
  t.is(missing.code, 1);
  t.is(lines(missing.stderr).length, 1);
  t.regex(missing.stderr, /^ks start: --router .*nope\.js could not be loaded: Cannot find module/);
});
