import test from 'ava';
import { request } from 'undici';
import { KsError, setupClient, dr, du, type Client, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const TOKEN = 'data-secret';
let services: Services;
let n1: KsNode;
let n2: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [n1, n2] = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 1, flags: ['--token', TOKEN] })));
  c = setupClient(n1.url, { token: TOKEN, output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
  await services?.stop();
});

test.serial('with --token, data routes need the token; RemoteData uses the default client\'s', async (t) => {
  const saved = await dr(Buffer.from('guarded')).save({ url: 'token/a' });
  t.is((await du('token/a').raw()).toString(), 'guarded');
  for (const [method, path] of [['GET', 'rpc/data/token/a'], ['POST', 'rpc/data/token/b'], ['POST', 'rpc/data-info']] as const) {
    const response = await request(new URL(path, n1.url), { method, body: method === 'POST' ? 'x' : undefined });
    t.is(response.statusCode, 401, `${method} ${path}`);
    await response.body.dump();
  }
  t.is(saved.dataUrl, 'token/a');
});

test.serial('nodes pass the token to each other: peer copies, relayed reads, checksums and pipeline work', async (t) => {
  const data = dr(Buffer.alloc(100_000, 'peer'));
  await data.save({ url: 'token/peer' });
  const size = await c.callWith({ queue: 'default|n2' }, async (d: RemoteData) => (await d.raw()).length, du('token/peer'));
  t.is(size, 100_000);
  t.deepEqual((await c.dataInfo(['token/peer'])).data['token/peer'].holders, ['n1', 'n2']);

  const onN2 = dr(Buffer.from('n2 data'));
  onN2.rpcUrl = n2.url;
  await onN2.save({ url: 'token/on-n2' });
  t.is((await du('token/on-n2').raw()).toString(), 'n2 data', 'n1 relays n2\'s copy');

  const sums = await c.checksums('token/peer');
  t.is(sums.n1, sums.n2);
  t.deepEqual((await du('token/on-n2').pipeline()).holders, ['n1', 'n2']);
  t.deepEqual(await c.deleteData('token/on-n2'), ['n1', 'n2']);
});

test.serial('a client with the wrong token gets a 401 KsError', async (t) => {
  const ref = du('token/a');
  const { Client } = await import('../index.js');
  const wrong = new Client(n1.url, { token: 'wrong' });
  t.teardown(() => wrong.close());
  await t.throwsAsync(wrong.dataInfo(['token/a']), { instanceOf: KsError, message: /missing or wrong token/ });
  t.is((await ref.raw()).toString(), 'guarded');
});
