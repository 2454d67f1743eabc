import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Client, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let writer: KsNode;
let reader: KsNode;
let c: Client;

/** Three 100 kB inputs; the read-only node keeps at most 250 kB of copies. */
const inputs = ['a', 'b', 'c'].map((name, i) => ({ url: `cache/${name}`, bytes: Buffer.alloc(100_000, i + 1) }));
const sha = (name: string) => createHash('sha256').update(inputs.find((input) => input.url === `cache/${name}`)!.bytes).digest('hex');

test.before(async () => {
  services = await startServices();
  [writer, reader] = await Promise.all([
    startNode({ name: 'writer', services, workers: 1 }),
    // The disk cache is what this file tests: without the memory tier, every read goes to it.
    startNode({ name: 'reader', services, workers: 1, flags: ['--read-only', '--cache-max', '250KB', '--memory-cache', '0'] }),
  ]);
  c = new Client(reader.url, { output: 'silent' });
  for (const { url, bytes } of inputs) {
    const data = dr(bytes);
    data.rpcUrl = writer.url;
    await data.save({ url });
  }
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([writer?.stop(), reader?.stop()]);
  await services?.stop();
});

const cached = () => readdirSync(join(reader.datadir, '.ks', 'cache')).sort();
const readOnReader = (name: string) => c.callWith({ queue: 'default|reader' }, async (d: RemoteData) => (await d.raw()).length, du(`cache/${name}`));

test.serial('a read-only node keeps the copies its tasks read within --cache-max, least recently used out first, never one in use', async (t) => {
  t.is(await readOnReader('a'), 100_000);
  t.is(await readOnReader('b'), 100_000);
  t.deepEqual(cached(), [sha('a'), sha('b')].sort(), 'both fit');

  // A task keeps copy a open while c is read: b (less recently used than a, and not open) goes.
  const aStayed = await c.callWith({ queue: 'default|reader' }, async (a: RemoteData, next: RemoteData) => {
    const { open } = await import('node:fs/promises');
    const { existsSync } = await import('node:fs');
    const path = await a.localPath();
    const handle = await open(path);
    try {
      await new Promise((r) => setTimeout(r, 5_500)); // past the hand-off time: a is in use only as an open file
      await next.raw();
      return existsSync(path) && (await handle.read(Buffer.alloc(10), 0, 10, 0)).bytesRead === 10;
    } finally {
      await handle.close();
    }
  }, du('cache/a'), du('cache/c'));
  t.true(aStayed, 'the open copy was kept');
  t.deepEqual(cached(), [sha('a'), sha('c')].sort());

  // b again: fetched anew; a (least recently used, closed, handed out long ago) makes room.
  t.is(await readOnReader('b'), 100_000);
  t.deepEqual(cached(), [sha('b'), sha('c')].sort());
  t.deepEqual((await c.dataInfo(['cache/a', 'cache/b', 'cache/c'])).data['cache/b'].holders, ['writer'], 'copies are never registered');
});
