import test from 'ava';
import { request } from 'undici';
import { Client, KsError, RemoteError, dr, du, type RemoteData } from '../index.js';
import { startCluster, type KsNode, type Services, type SharedCluster } from './helpers/cluster.js';
import { Store } from '../src/store/store.js';
import { dataFiles } from './helpers/data.js';
import { rawRedis } from './helpers/raw-redis.js';

let cluster: SharedCluster;
let services: Services;
let n1: KsNode;
let n2: KsNode;
let c: Client;

test.before(async () => {
  cluster = await startCluster([{ name: 'n1' }, { name: 'n2' }]);
  ({ services, nodes: [n1, n2] } = cluster);
  c = new Client(n1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await cluster?.stop();
});

function saveOn(node: KsNode, url: string, text = url): Promise<unknown> {
  const data = dr(Buffer.from(text));
  data.rpcUrl = node.url;
  return data.save({ url });
}

const stateOf = async (url: string) => (await c.dataInfo([url])).data[url].state;

test.serial('a url under a data url is refused on any node: 409, saying which url is the file', async (t) => {
  await saveOn(n1, 'p/a');
  for (const [node, url] of [[n2, 'p/a/b'], [n1, 'p/a/b'], [n2, 'p/a/b/c']] as const) {
    const error = await t.throwsAsync(saveOn(node, url), { instanceOf: KsError }, `${url} on ${node.name}`);
    t.is(error?.code, 'conflict');
    t.is(error?.message, `"p/a" is a data url, so ${JSON.stringify(url)} cannot be saved under it: a data url is a file, not a folder`);
    t.is(await stateOf(url), 'absent');
  }
  t.deepEqual(dataFiles(n2.datadir), []);
});

test.serial('a folder of data urls cannot be saved as data, on the same node or another', async (t) => {
  await saveOn(n1, 'd/x');
  await saveOn(n2, 'd/sub/y');
  for (const [node, url] of [[n1, 'd'], [n2, 'd'], [n1, 'd/sub']] as const) {
    const error = await t.throwsAsync(saveOn(node, url), { instanceOf: KsError }, `${url} on ${node.name}`);
    t.is(error?.code, 'conflict');
    t.is(error?.message, `${JSON.stringify(url)} is a folder of other data urls, so it cannot be saved as data itself`);
  }
  t.deepEqual(dataFiles(n1.datadir), ['d/x', 'p/a']);
});

test.serial('a folder emptied by deletes can be saved as data again, and then nothing goes under it', async (t) => {
  await saveOn(n1, 'e/x');
  await saveOn(n2, 'e/y/z');
  await c.deleteData('e/x');
  t.is((await t.throwsAsync(saveOn(n1, 'e'), { instanceOf: KsError }))?.code, 'conflict', 'e/y/z is still there');
  await c.deleteData('e/y/z');
  await saveOn(n1, 'e', 'now a file');
  const back = du('e');
  back.rpcUrl = n2.url;
  t.is((await back.raw()).toString(), 'now a file');
  t.is((await t.throwsAsync(saveOn(n2, 'e/x'), { instanceOf: KsError }))?.code, 'conflict');
});

test.serial('a write that fails gives its place in the folders up', async (t) => {
  const response = await request(new URL('rpc/data/f/broken', n1.url), {
    method: 'POST',
    body: 'some bytes',
    headers: { 'content-type': 'application/octet-stream', 'x-ks-expect-sha256': '0'.repeat(64) },
  });
  t.is(response.statusCode, 400);
  await response.body.dump();
  await saveOn(n2, 'f', 'a file after all');
  t.is(await stateOf('f'), 'ready');
});

test.serial('of a file and a url under it saved at once on two nodes, exactly one is saved', async (t) => {
  for (let round = 0; round < 5; round++) {
    const [parent, child] = [`race${round}/a`, `race${round}/a/b`];
    const outcomes = await Promise.allSettled([saveOn(n1, parent), saveOn(n2, child)]);
    const saved = outcomes.filter((o) => o.status === 'fulfilled').length;
    t.is(saved, 1, `round ${round}: ${outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'saved')).join(' | ')}`);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') t.is((outcome.reason as KsError).code, 'conflict');
    }
  }
});

test.serial('a task cannot save under a data url either: the conflict is raised inside the task', async (t) => {
  await saveOn(n1, 'g/file');
  const error = await t.throwsAsync(c.callWith({ queue: 'default|n2' }, async () => {
    const { dobj } = await import('kitchensink');
    await dobj({ x: 1 }).save({ url: 'g/file/inside' });
  }), { instanceOf: RemoteError });
  t.regex(error?.message ?? '', /"g\/file" is a data url, so "g\/file\/inside" cannot be saved under it/);
  // and a task on n2 reads g/file (copying it there) without trouble
  t.is(await c.callWith({ queue: 'default|n2' }, async (d: RemoteData) => (await d.raw()).toString(), du('g/file')), 'g/file');
});

test.serial('the claim of a writer that died leaves the folder index when it expires (keys under --prefix)', async (t) => {
  const store = await Store.connect(services.redisUrl, { prefix: 'other' });
  t.teardown(() => store.close());
  const { catalog } = store;
  const raw = rawRedis(services.redisUrl, t);
  t.deepEqual(await catalog.claim('dead/x', 'token-1', 'gone', 300), { ok: true }); // never committed nor released
  t.deepEqual(await catalog.claim('dead', 'token-2', 'n1', 300), { ok: false, state: 'folder' });
  t.is(await raw.hget('{other}:ks:data:dirs', 'dead'), '1');
  t.is(await raw.exists('{ks}:data:dirs'), 1, 'the unprefixed cluster\'s index is its own');
  t.is(await raw.hget('{ks}:data:dirs', 'dead'), null);

  await new Promise((r) => setTimeout(r, 400)); // expired, not swept yet: the url itself can be claimed again, counted once
  t.deepEqual(await catalog.claim('dead/x', 'token-3', 'n1', 300), { ok: true });
  t.is(await raw.hget('{other}:ks:data:dirs', 'dead'), '1');

  await new Promise((r) => setTimeout(r, 1_500)); // expired and past the sweep's margin
  t.deepEqual(await catalog.claim('dead', 'token-4', 'n1', 30_000), { ok: true });
  t.is(await raw.hget('{other}:ks:data:dirs', 'dead'), null);
  t.true(await catalog.release('dead', 'token-4'));
});
