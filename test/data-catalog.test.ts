import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { readDataFacts } from '../actors/scheduler/data-facts.js';
import { Client, KsError, dobj, dr, du, type RemoteData } from '../index.js';
import { Store } from '../src/store/store.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles } from './helpers/data.js';

let services: Services;
let nodes: KsNode[];
let c: Client;

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['n1', 'n2', 'n3'].map((name) => startNode({ name, services, workers: 1 })));
  c = new Client(nodes[0].url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

function on(node: KsNode, data: RemoteData): RemoteData {
  data.rpcUrl = node.url;
  return data;
}

/** Saves on the first node and copies to the others with pipeline(). */
async function everywhere(url: string, bytes: Buffer): Promise<void> {
  const data = await on(nodes[0], dr(bytes)).save({ url });
  await data.pipeline();
}

test('dataInfo: the live hosts, and per url its state, holders and catalog record', async (t) => {
  const before = Date.now();
  await on(nodes[1], dobj({ a: 1 })).save({ url: 'catalog/info' });
  const report = await c.dataInfo(['catalog/info', 'catalog/none']);
  t.deepEqual(Object.keys(report.hosts), ['n1', 'n2', 'n3']);
  t.is(report.hosts.n2, nodes[1].url);
  const entry = report.data['catalog/info'];
  t.is(entry.state, 'ready');
  t.deepEqual(entry.holders, ['n2']);
  t.like(entry.info, { url: 'catalog/info', fmt: 'cbor', node: 'n2', size: (await on(nodes[0], du('catalog/info')).raw()).length });
  t.regex(entry.info!.sha256, /^[0-9a-f]{64}$/);
  t.true(entry.info!.created >= before - 1000 && entry.info!.created <= Date.now() + 1000);
  t.deepEqual(report.data['catalog/none'], { state: 'absent', holders: [], info: null });
  await t.throwsAsync(c.dataInfo(['../etc']), { instanceOf: KsError, message: /invalid data url/ });
});

test('locality routing reads the same catalog: sizes and holders of saved urls', async (t) => {
  await on(nodes[2], dr(Buffer.alloc(12345))).save({ url: 'catalog/routed' });
  const store = await Store.connect(services.redisUrl);
  t.teardown(() => store.close());
  const facts = await readDataFacts(store, ['catalog/routed', 'catalog/unknown'], await c.hosts());
  t.true(facts.known('catalog/routed'));
  t.is(facts.size('catalog/routed'), 12345);
  t.deepEqual([...facts.holders('catalog/routed')], ['n3']);
});

test('pathSearch: a glob over the saved urls, walked with SCAN, never KEYS', async (t) => {
  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  for (const url of ['search/a.csv', 'search/b.csv', 'search/b.txt', 'search/deep/c.csv', 'search/we[ir]d*.csv', 'searching/x.csv']) {
    await on(nodes[0], dr(Buffer.from(url))).save({ url });
  }
  const keysCallsBefore = await commandCalls(redis, 'keys');
  t.deepEqual(await c.pathSearch('search/*.csv'), ['search/a.csv', 'search/b.csv', 'search/we[ir]d*.csv']);
  t.deepEqual(await c.pathSearch('search/**/*.csv'), ['search/a.csv', 'search/b.csv', 'search/deep/c.csv', 'search/we[ir]d*.csv']);
  t.deepEqual(await c.pathSearch('search/b.*'), ['search/b.csv', 'search/b.txt']);
  t.deepEqual(await c.pathSearch('search/a.csv'), ['search/a.csv']);
  t.deepEqual(await c.pathSearch('nothing/*'), []);
  t.is(await commandCalls(redis, 'keys'), keysCallsBefore);
  t.true((await commandCalls(redis, 'scan')) > 0);
});

test('deleteData: one host\'s copy, or every copy; the url is forgotten with its last copy', async (t) => {
  await everywhere('catalog/del/x.bin', Buffer.alloc(1000, 1));
  t.deepEqual((await c.dataInfo(['catalog/del/x.bin'])).data['catalog/del/x.bin'].holders, ['n1', 'n2', 'n3']);

  t.deepEqual(await c.deleteData('catalog/del/x.bin', { host: 'n2' }), ['n2']);
  t.deepEqual((await c.dataInfo(['catalog/del/x.bin'])).data['catalog/del/x.bin'].holders, ['n1', 'n3']);
  t.false(existsSync(join(nodes[1].datadir, 'catalog/del')), 'the file and its emptied directories are gone from n2');
  t.true(existsSync(join(nodes[2].datadir, 'catalog/del/x.bin')));

  await t.throwsAsync(c.deleteData('catalog/del/x.bin', { host: 'n2' }), { instanceOf: KsError, message: /node n2 holds no copy/ });
  t.deepEqual(await c.deleteData('catalog/del/x.bin'), ['n1', 'n3']);
  t.is((await c.dataInfo(['catalog/del/x.bin'])).data['catalog/del/x.bin'].state, 'absent');
  for (const node of nodes) t.false(dataFiles(node.datadir).includes('catalog/del/x.bin'));
  await t.throwsAsync(c.deleteData('catalog/del/x.bin'), { instanceOf: KsError, message: /no data at url/ });
});

test('reduceData keeps the number of copies asked for and removes the rest', async (t) => {
  await everywhere('catalog/reduce/a', Buffer.alloc(100, 2));
  await everywhere('catalog/reduce/b', Buffer.alloc(100, 3));
  const removed = await c.reduceData(['catalog/reduce/a', 'catalog/reduce/b'], { keep: 2 });
  t.deepEqual(removed, { 'catalog/reduce/a': ['n3'], 'catalog/reduce/b': ['n3'] });
  t.deepEqual(await c.reduceData(['catalog/reduce/a']), { 'catalog/reduce/a': ['n2'] });
  const report = await c.dataInfo(['catalog/reduce/a', 'catalog/reduce/b']);
  t.deepEqual(report.data['catalog/reduce/a'].holders, ['n1']);
  t.deepEqual(report.data['catalog/reduce/b'].holders, ['n1', 'n2']);
  t.false(existsSync(join(nodes[2].datadir, 'catalog/reduce/a')));
  await t.throwsAsync(c.reduceData(['catalog/reduce/a'], { keep: 0 }), { instanceOf: KsError, message: /keep must be|invalid request/ });
});

test('checksums: every holder hashes its own copy from disk', async (t) => {
  await everywhere('catalog/sums', Buffer.alloc(50_000, 9));
  const sums = await c.checksums('catalog/sums');
  const expected = (await c.dataInfo(['catalog/sums'])).data['catalog/sums'].info!.sha256;
  t.deepEqual(sums, { n1: expected, n2: expected, n3: expected });
});

test.serial('a node that holds no copy relays a read from a holder, without keeping a copy, and counts it', async (t) => {
  await on(nodes[2], dr(Buffer.from('only on n3'))).save({ url: 'catalog/relayed' });
  const before = (await c.nodeStatus()).data.relayed;
  t.is((await on(nodes[0], du('catalog/relayed')).raw()).toString(), 'only on n3');
  t.deepEqual((await c.nodeStatus()).data.relayed, { reads: before.reads + 1, bytes: before.bytes + 10 });
  t.deepEqual((await c.dataInfo(['catalog/relayed'])).data['catalog/relayed'].holders, ['n3']);
  t.false(existsSync(join(nodes[0].datadir, 'catalog/relayed')));
});

async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}
