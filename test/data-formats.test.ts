import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { request } from 'undici';
import { setupClient, dobj, dp, dr, du, type Client, type RemoteData } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';

let node: KsNode;
let c: Client;
const scratch = scratchDir('formats');

test.before(async () => {
  process.env.KS_DATA_CACHE = join(scratch.dir, 'cache');
  node = await startNode({ workers: 1 });
  c = setupClient(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  scratch.cleanup();
});

test('cbor (the default): Map, Set, Date, BigInt, typed arrays and nesting round-trip exactly', async (t) => {
  const value = { m: new Map<unknown, unknown>([[1, 'a'], ['k', new Set([1, 2])]]), d: new Date(1_700_000_000_000), big: 2n ** 70n, f: new Float32Array([1.5, -2]), u: undefined, n: null };
  const saved = await dobj(value).save({ url: 'formats/cbor' });
  t.is(saved.fmt, 'cbor');
  const ref = du('formats/cbor');
  t.is(ref.fmt, undefined, 'a reference learns its format from the node');
  t.deepEqual(await ref.obj(), value);
  t.is(ref.fmt, 'cbor');
  t.deepEqual(await c.call(async (d: RemoteData<typeof value>) => d.obj(), ref as RemoteData<typeof value>), value);
});

test('json: stored as JSON text, read back as an object, in the client and in a task', async (t) => {
  const value = { a: [1, 'x', { b: true }], c: null };
  await dobj(value, { fmt: 'json' }).save({ url: 'formats/json' });
  t.is((await du('formats/json').raw()).toString('utf8'), JSON.stringify(value));
  t.deepEqual(await du('formats/json').obj(), value);
  t.deepEqual(await c.call(async (d: RemoteData) => d.obj(), du('formats/json')), value);
});

test('raw: bytes as they are; obj() gives the bytes', async (t) => {
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  const saved = await dr(bytes).save({ url: 'formats/raw' });
  t.is(saved.fmt, 'raw');
  t.deepEqual(await du('formats/raw').raw(), bytes);
  t.deepEqual(await du('formats/raw').obj(), bytes);
  t.deepEqual(Buffer.from(await c.call(async (d: RemoteData<Uint8Array>) => d.obj(), du('formats/raw'))), bytes);
});

test('file: a local file streamed as it is; read back as bytes and as a local file', async (t) => {
  const path = join(scratch.dir, 'input.bin');
  const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'kitchensink');
  writeFileSync(path, content);
  const saved = await dp(path).save({ url: 'formats/file.bin' });
  t.is(saved.fmt, 'file');
  // Buffer.equals: ava's deepEqual takes seconds over megabytes.
  t.true(content.equals(await du<Buffer>('formats/file.bin').obj()));
  t.true(content.equals(readFileSync(await du('formats/file.bin').localPath())));
  t.is(await c.call(async (d: RemoteData) => (await d.raw()).length, du('formats/file.bin')), content.length);
});

test('an upload that names no format is raw; an unknown format is a 400', async (t) => {
  const plain = await request(new URL('rpc/data/formats/plain', node.url), { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  t.is(plain.statusCode, 200);
  t.like(await plain.body.json(), { url: 'formats/plain', fmt: 'raw', size: 5 });
  const bad = await request(new URL('rpc/data/formats/bad?fmt=pickle', node.url), { method: 'POST', body: 'x' });
  t.is(bad.statusCode, 400);
  t.like(await bad.body.json(), { code: 'bad_request' });
  t.is((await c.dataInfo(['formats/bad'])).data['formats/bad'].state, 'absent');
});
