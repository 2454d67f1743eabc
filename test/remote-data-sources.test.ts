import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { decode } from '../src/codec.js';
import { RemoteData, setupClient, dobj, dp, du, type Client } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';

/** Stands in for the seed's DataFrame: something with a shape and typed columns. */
const df1 = { shape: [3, 2], columns: ['a', 'b'], a: new Float64Array([1, 2, 3]), b: ['x', 'y', 'z'] };

let node: KsNode;
let c: Client;
const scratch = scratchDir('sources');

test.before(async () => {
  process.env.KS_DATA_CACHE = join(scratch.dir, 'cache');
  node = await startNode({ workers: 2 });
  c = setupClient(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  scratch.cleanup();
});

test('a saved object reads back through obj(), through raw() decoded by hand, and through localPath() read by hand (test_remote_data_sources)', async (t) => {
  const obj = dobj(df1);
  t.false(obj.saved);
  await obj.save();
  t.regex(obj.dataUrl, /^[0-9a-f-]{36}$/);

  const copy = du<typeof df1>(obj.dataUrl);
  t.deepEqual((await copy.obj()).shape, [3, 2]);
  t.deepEqual(await copy.obj(), df1);
  t.is(copy.fmt, 'cbor');

  t.deepEqual(decode(await du(obj.dataUrl).raw()), df1);

  const path = await du(obj.dataUrl).localPath();
  t.deepEqual(decode(readFileSync(path)), df1);
  t.deepEqual(readFileSync(join(node.datadir, obj.dataUrl)), readFileSync(path), 'the node keeps the bytes as the file at the url\'s path');
});

test('a saved object passed to a task arrives live there (test_remote_data_source_conversions)', async (t) => {
  const obj = await dobj(df1).save({ url: 'conversions/df1' });
  c.bc(async (d: RemoteData<typeof df1>) => {
    const value = await d.obj();
    return { shape: value.shape, isRemote: d.constructor.name, url: d.dataUrl };
  }, du(obj.dataUrl));
  const [result] = await c.br();
  t.deepEqual(result, { shape: [3, 2], isRemote: 'RemoteData', url: 'conversions/df1' });
});

test('a local file saved with dp is read by a task, also the local path of a saved object (test_remote_data_source_conversions)', async (t) => {
  const csv = join(scratch.dir, 'table.csv');
  writeFileSync(csv, 'a,b\n1,2\n3,4\n');
  const file = await dp(csv).save({ url: 'conversions/table.csv' });
  t.is(file.fmt, 'file');
  const readFileInTask = async (d: RemoteData) => {
    const { readFile } = await import('node:fs/promises');
    return readFile(await d.localPath(), 'utf8');
  };
  t.is(await c.call(readFileInTask, du('conversions/table.csv')), 'a,b\n1,2\n3,4\n');

  // The seed: obj = dp(obj.local_path()); obj.save(); a task reads the file.
  const saved = await dobj(df1).save();
  const again = await dp(await du(saved.dataUrl).localPath()).save();
  const shapeFromFile = async (d: RemoteData) => {
    const { readFile } = await import('node:fs/promises');
    const { decode } = await import('cbor-x');
    return (decode(await readFile(await d.localPath())) as { shape: number[] }).shape;
  };
  t.deepEqual(await c.call(shapeFromFile, du(again.dataUrl)), [3, 2]);
});

test('a task that returns a saved dobj gives the client a RemoteData, not the bytes', async (t) => {
  const result = await c.call(async (n: number) => {
    const { dobj } = await import('kitchensink');
    const data = dobj({ n, payload: new Uint8Array(2_000_000).fill(7) });
    await data.save({ prefix: 'results' });
    return data;
  }, 5);
  t.true(result instanceof RemoteData);
  t.regex(result.dataUrl, /^results\/[0-9a-f-]{36}$/);
  const value = await result.obj();
  t.is(value.n, 5);
  t.is(value.payload.length, 2_000_000);
  t.is(readFileSync(join(node.datadir, result.dataUrl)).length, (await result.raw()).length);
});
