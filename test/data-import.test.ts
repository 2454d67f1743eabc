import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { Client, dobj, dr, du, KsError, type RemoteData } from '../index.js';
import { runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

/** Data that arrived by other means (issue 11): `ks data import`, and the catalog healing after Redis lost its data. */
let services: Services;
let n1: KsNode;
let n2: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [n1, n2] = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 1 })));
  c = new Client(n1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
  await services?.stop();
});

function putByHand(node: KsNode, path: string, content: string | Buffer): string {
  const file = join(node.datadir, ...path.split('/'));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return createHash('sha256').update(content).digest('hex');
}

const readText = async (d: RemoteData<Buffer>) => ({ node: (await import('kitchensink')).taskContext().node.name, text: (await d.obj()).toString('utf8') });

test.serial('files copied into a datadir by hand are imported (a file, a folder, a prefix) and read by tasks on any node', async (t) => {
  const shaA = putByHand(n1, 'hand/a.csv', 'x,y\n1,2\n');
  putByHand(n1, 'hand/sub/b.csv', 'x,y\n3,4\n');
  t.deepEqual(await c.pathSearch('hand/**'), []);

  const run = await runKs(['data', 'import', 'hand', '--node', n1.url]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /registered hand\/a\.csv \(8 bytes/);
  t.deepEqual(await c.pathSearch('hand/**'), ['hand/a.csv', 'hand/sub/b.csv']);
  const info = (await c.dataInfo(['hand/a.csv'])).data['hand/a.csv'];
  t.deepEqual(info.holders, ['n1']);
  t.is(info.info!.sha256, shaA);
  t.is(info.info!.fmt, 'file');

  t.deepEqual(await c.callWith({ queue: 'default|n2' }, readText, du('hand/sub/b.csv')), { node: 'n2', text: 'x,y\n3,4\n' });

  putByHand(n2, 'uploads/c.json', '{"k":[1,2,3]}');
  const report = await c.importData(['c.json'], { node: n2.url, prefix: 'uploads', fmt: 'json' });
  t.is(report.results[0].outcome, 'registered');
  t.deepEqual(await c.callWith({ queue: 'default|n1' }, async (d: RemoteData<{ k: number[] }>) => (await d.obj()).k, du('uploads/c.json')), [1, 2, 3]);
});

test.serial('a conflicting import is refused and nothing is overwritten; the same bytes make the node a holder', async (t) => {
  const saved = dr(Buffer.from('the saved bytes'));
  saved.rpcUrl = n1.url;
  await saved.save({ url: 'conf/x' });
  const before = (await c.dataInfo(['conf/x'])).data['conf/x'];
  putByHand(n2, 'conf/x', 'other bytes by hand');

  const run = await runKs(['data', 'import', 'conf/x', '--node', n2.url]);
  t.is(run.code, 1);
  t.regex(run.stderr, /exists with sha256/);
  const error = await t.throwsAsync(c.importData(['conf/x'], { node: n2.url }));
  t.is((error as KsError).code, 'conflict');
  t.deepEqual((await c.dataInfo(['conf/x'])).data['conf/x'], before);
  t.is(readFileSync(join(n2.datadir, 'conf', 'x'), 'utf8'), 'other bytes by hand');

  putByHand(n2, 'conf/y', 'same');
  const y = dr(Buffer.from('same'));
  y.rpcUrl = n1.url;
  await y.save({ url: 'conf/y' });
  const added = await c.importData(['conf/y'], { node: n2.url });
  t.is(added.results[0].outcome, 'added');
  t.deepEqual((await c.dataInfo(['conf/y'])).data['conf/y'].holders, ['n1', 'n2']);
});

test.serial('a copy deleted while its node was down does not come back when the node starts and registers its datadir', async (t) => {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-away-'));
  let n3 = await startNode({ name: 'n3', services, datadir });
  try {
    for (const url of ['away/x', 'away/kept']) {
      const d = dr(Buffer.from(url));
      d.rpcUrl = n3.url;
      await d.save({ url });
    }
    await n3.stop();
    t.deepEqual(await c.deleteData('away/x'), ['n3'], 'a down node\'s copy leaves the catalog only');
    t.true(existsSync(join(datadir, 'away', 'x')));
    n3 = await startNode({ name: 'n3', services, datadir });
    t.false(existsSync(join(datadir, 'away', 'x')), 'the node removed it at start');
    await new Promise((r) => setTimeout(r, 1500));
    t.deepEqual(await c.pathSearch('away/**'), ['away/kept']);
    const heal = await fetch(new URL('rpc/data-reregister', n3.url), { method: 'POST' });
    t.is(heal.status, 200);
  } finally {
    await n3.stop();
    rmSync(datadir, { recursive: true, force: true });
  }
  await c.deleteData('away/kept');
});

test.serial('after FLUSHALL every node registers its datadir again: the urls come back and tasks read them', async (t) => {
  const objects = dobj({ answer: 42, list: ['a', 'b'] });
  objects.rpcUrl = n2.url;
  await objects.save({ url: 'heal/obj' });
  const bytes = dr(Buffer.alloc(100_000, 3));
  bytes.rpcUrl = n1.url;
  await bytes.save({ url: 'heal/raw' });
  await c.load(['heal/raw']);
  const urls = await c.pathSearch('**');
  t.true(urls.includes('heal/obj') && urls.includes('heal/raw'), urls.join(' '));

  const redis = new Redis(services.redisUrl);
  try {
    await redis.flushall();
    t.deepEqual(await c.pathSearch('**'), []);
  } finally {
    redis.disconnect();
  }
  // conf/x on n2 conflicts with n1's (different bytes): whichever registers first wins, the other is refused.
  const expected = urls.length;
  await eventually(async () => (await c.pathSearch('**')).length === expected, 10_000, 'every url registered again');
  t.deepEqual(await c.pathSearch('**'), urls);
  // the nodes' own registrations come back with their next heartbeat
  const c2 = new Client(n2.url, { output: 'silent' });
  try {
    await eventually(async () => (await c.hosts()).length === 2 && (await c2.hosts()).length === 2, 10_000, 'both nodes registered again, as each sees it');
  } finally {
    await c2.close();
  }
  t.deepEqual(await c.callWith({ queue: 'default|n1' }, async (d: RemoteData<{ answer: number; list: string[] }>) => d.obj(), du('heal/obj')), { answer: 42, list: ['a', 'b'] });
  t.is(await c.callWith({ queue: 'default|n2' }, async (d: RemoteData<Buffer>) => (await d.obj()).length, du('heal/raw')), 100_000);
  t.is((await c.dataInfo(['heal/obj'])).data['heal/obj'].info!.fmt, 'cbor', 'the format is recovered from the node\'s note');
  t.deepEqual((await c.dataInfo(['heal/raw'])).data['heal/raw'].memory, { n1: { pinned: true } }, 'memory facts are recorded again');
  await c.unload(['heal/raw']);
});
