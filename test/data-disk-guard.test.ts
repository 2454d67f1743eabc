import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import test, { type ExecutionContext } from 'ava';
import { request } from 'undici';
import { Client, KsError, RemoteError, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles, generated, tempFiles } from './helpers/data.js';

let services: Services;
/** refuses every write: it keeps 1 PiB free */
let full: KsNode;
/** a normal node holding data the full one is asked to copy */
let roomy: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [full, roomy] = await Promise.all([
    startNode({ name: 'full', services, workers: 1, flags: ['--min-free-disk', '1024TiB'] }),
    startNode({ name: 'roomy', services, workers: 1 }),
  ]);
  c = new Client(full.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([full, roomy].map((n) => n?.stop()));
  await services?.stop();
});

function nothingLeft(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, node: KsNode): void {
  t.deepEqual(dataFiles(node.datadir), [], `no data file on ${node.name}`);
  t.deepEqual(tempFiles(node.datadir), [], `no temp file on ${node.name}`);
}

test.serial('a write of known size that would go below --min-free-disk is refused before a byte is written: 507', async (t) => {
  const data = dr(Buffer.alloc(1000));
  data.rpcUrl = full.url;
  const error = await t.throwsAsync(data.save({ url: 'guard/known' }), { instanceOf: KsError });
  t.is(error?.code, 'insufficient_storage');
  t.is(error?.status, 507);
  t.regex(error?.message ?? '', /not enough disk space on this node.*--min-free-disk/);
  t.is((await c.dataInfo(['guard/known'])).data['guard/known'].state, 'absent');
  nothingLeft(t, full);
});

test.serial('a chunked upload is stopped once its bytes would go below the floor: 507, nothing half-written stays', async (t) => {
  // Started here, not in before(), so that other processes' writes have little time to eat the margin.
  const { bavail, bsize } = statfsSync(tmpdir());
  const nearlyFull = await startNode({ name: 'nearly', services, workers: 1, flags: ['--min-free-disk', String(bavail * bsize - 64 * 1024 * 1024)] });
  t.teardown(() => nearlyFull.stop());
  const response = await request(new URL('rpc/data/guard/chunked', nearlyFull.url), {
    method: 'POST',
    body: generated(512),
    headers: { 'content-type': 'application/octet-stream' },
  });
  t.is(response.statusCode, 507);
  const body = (await response.body.json()) as { error: string; code: string };
  t.is(body.code, 'insufficient_storage');
  const written = Number(/writing (\d+) bytes/.exec(body.error)?.[1]);
  t.true(written > 0 && written < 512 * 1024 * 1024, `stopped midway, after ${written} bytes`);
  t.is((await c.dataInfo(['guard/chunked'])).data['guard/chunked'].state, 'absent');
  nothingLeft(t, nearlyFull);
});

/** Two 100 MiB uploads at once on a node whose floor leaves room for 150 MiB: both fitting alone, not together. */
async function twoUploads(t: ExecutionContext, sized: boolean): Promise<void> {
  const { bavail, bsize } = statfsSync(tmpdir());
  const node = await startNode({ name: sized ? 'tight-sized' : 'tight-chunked', services, workers: 1, flags: ['--min-free-disk', String(bavail * bsize - 150 * 1024 * 1024)] });
  t.teardown(() => node.stop());
  const urls = ['guard/both/1', 'guard/both/2'].map((url) => `${url}-${sized ? 'sized' : 'chunked'}`);
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (sized) headers['content-length'] = String(100 * 1024 * 1024);
  const answers = await Promise.all(urls.map(async (url) => {
    const response = await request(new URL(`rpc/data/${url}`, node.url), { method: 'POST', body: generated(100), headers });
    return { url, status: response.statusCode, body: (await response.body.json()) as { error?: string; code?: string } };
  }));
  const refused = answers.filter((a) => a.status === 507);
  t.true(refused.length >= 1, `at least one is refused: ${JSON.stringify(answers.map((a) => [a.status, a.body.error ?? 'saved']))}`);
  for (const answer of refused) {
    t.is(answer.body.code, 'insufficient_storage');
    t.regex(answer.body.error ?? '', /not enough disk space on this node/);
    t.is((await c.dataInfo([answer.url])).data[answer.url].state, 'absent', 'no catalog entry');
  }
  const saved = answers.filter((a) => a.status === 200).map((a) => a.url);
  t.is(saved.length + refused.length, 2);
  t.deepEqual(dataFiles(node.datadir), saved, 'only the saved upload is on disk');
  t.deepEqual(tempFiles(node.datadir), [], 'no temp file');
  const small = dr(Buffer.from('still fits'));
  small.rpcUrl = node.url;
  await small.save({ url: `guard/after-${sized}` });
  t.is((await small.raw()).toString(), 'still fits', 'the node keeps serving');
  saved.push(small.dataUrl);
  for (const url of saved) await c.deleteData(url);
}

test.serial('two concurrent uploads of announced size that together cross the floor: the second reservation is refused, 507', async (t) => {
  await twoUploads(t, true);
});

test.serial('two concurrent chunked uploads that together cross the floor: their bytes are counted together, 507', async (t) => {
  await twoUploads(t, false);
});

test.serial('a task\'s save on a full node is refused with the same clear error', async (t) => {
  const error = await t.throwsAsync(c.callWith({ queue: 'default|full' }, async () => {
    const { dobj } = await import('kitchensink');
    await dobj({ x: 1 }).save({ url: 'guard/from-task' });
  }), { instanceOf: RemoteError });
  t.regex(error?.message ?? '', /not enough disk space/);
  nothingLeft(t, full);
});

test.serial('a full node does not copy data its task reads: the task fails clearly and the node stays out of the holders', async (t) => {
  const data = dr(Buffer.alloc(50_000, 5));
  data.rpcUrl = roomy.url;
  await data.save({ url: 'guard/elsewhere' });
  const error = await t.throwsAsync(c.callWith({ queue: 'default|full' }, async (d: RemoteData) => (await d.raw()).length, du('guard/elsewhere')), { instanceOf: RemoteError });
  t.is(error?.remoteName, 'KsError');
  t.regex(error?.message ?? '', /not enough disk space/);
  t.deepEqual((await c.dataInfo(['guard/elsewhere'])).data['guard/elsewhere'].holders, ['roomy']);
  nothingLeft(t, full);
});

test.serial('after refusing, the nodes serve and store as before', async (t) => {
  const small = dr(Buffer.from('fits'));
  small.rpcUrl = roomy.url;
  await small.save({ url: 'guard/small' });
  t.is((await small.raw()).toString(), 'fits');
  t.is((await c.ping()).ok, true);
  const error = await t.throwsAsync(c.callWith({ queue: 'default|full' }, async () => {
    const { dobj } = await import('kitchensink');
    await dobj(1).save();
  }));
  t.regex(error?.message ?? '', /not enough disk space/, 'and the full node still refuses');
});
