import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Client, KsError, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { tempFiles } from './helpers/data.js';

let services: Services;
let n1: KsNode;
let n2: KsNode;
let c1: Client;

test.before(async () => {
  services = await startServices();
  [n1, n2] = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 1 })));
  c1 = new Client(n1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c1?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
  await services?.stop();
});

function on(node: KsNode, data: RemoteData): RemoteData {
  data.rpcUrl = node.url;
  return data;
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('saving to a url that exists is a clear conflict, and the data stays as it was', async (t) => {
  await on(n1, dr(Buffer.from('original'))).save({ url: 'once/a' });
  const error = await t.throwsAsync(on(n1, dr(Buffer.from('replacement'))).save({ url: 'once/a' }), { instanceOf: KsError });
  t.is(error?.code, 'conflict');
  t.is(error?.status, 409);
  t.regex(error?.message ?? '', /"once\/a" already exists \(saved on node n1\): data is write-once/);
  // Through the other node too: the catalog is shared.
  await t.throwsAsync(on(n2, dr(Buffer.from('replacement'))).save({ url: 'once/a' }), { instanceOf: KsError, message: /already exists/ });
  t.is((await on(n1, du('once/a')).raw()).toString(), 'original');
  t.false(existsSync(join(n2.datadir, 'once/a')));
});

test('of two concurrent saves to one url on two nodes, exactly one wins, every time', async (t) => {
  const rounds = 12;
  const outcomes = await Promise.all(Array.from({ length: rounds }, async (_, i) => {
    const url = `race/${i}`;
    const contents = [Buffer.alloc(2 << 20, `n1-${i}`), Buffer.alloc(2 << 20, `n2-${i}`)];
    const settled = await Promise.allSettled([on(n1, dr(contents[0])).save({ url }), on(n2, dr(contents[1])).save({ url })]);
    return { url, contents, settled };
  }));
  const wins = { n1: 0, n2: 0 };
  for (const { url, contents, settled } of outcomes) {
    const won = settled.map((s) => s.status === 'fulfilled');
    t.is(won.filter(Boolean).length, 1, `${url}: exactly one save wins`);
    const loser = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    t.true(loser?.reason instanceof KsError && loser.reason.code === 'conflict', `${url}: the other is a conflict (${loser?.reason})`);
    const winner = won[0] ? 'n1' : 'n2';
    wins[winner]++;
    const entry = (await c1.dataInfo([url])).data[url];
    t.deepEqual(entry.holders, [winner]);
    t.is(entry.info?.sha256, sha(contents[won[0] ? 0 : 1]));
    t.is(existsSync(join((winner === 'n1' ? n2 : n1).datadir, url)), false, `${url}: the loser's node wrote no file`);
  }
  t.deepEqual(tempFiles(n1.datadir), []);
  t.deepEqual(tempFiles(n2.datadir), []);
  t.log(`wins: ${JSON.stringify(wins)}`);
});

test('of five concurrent saves to one url on one node, exactly one wins', async (t) => {
  const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => on(n1, dr(Buffer.alloc(1 << 20, i))).save({ url: 'race/same-node' })));
  t.is(settled.filter((s) => s.status === 'fulfilled').length, 1);
  for (const s of settled) if (s.status === 'rejected') t.is((s.reason as KsError).code, 'conflict');
  t.deepEqual((await c1.dataInfo(['race/same-node'])).data['race/same-node'].holders, ['n1']);
});

test('a url is write-once until it is deleted; then it can be saved again', async (t) => {
  await on(n1, dr(Buffer.from('v1'))).save({ url: 'once/again' });
  t.deepEqual(await c1.deleteData('once/again'), ['n1']);
  t.is((await c1.dataInfo(['once/again'])).data['once/again'].state, 'absent');
  await on(n2, dr(Buffer.from('v2'))).save({ url: 'once/again' });
  t.is((await on(n1, du('once/again')).raw()).toString(), 'v2');
});
