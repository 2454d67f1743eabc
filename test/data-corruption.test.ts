import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Client, KsError, RemoteError, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles, eventually, tempFiles } from './helpers/data.js';

let services: Services;
let h1: KsNode;
let h2: KsNode;
let reader: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [h1, h2, reader] = await Promise.all(['h1', 'h2', 'reader'].map((name) => startNode({ name, services, workers: 1 })));
  c = new Client(h1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([h1, h2, reader].map((n) => n?.stop()));
  await services?.stop();
});

/** Flips one byte of a node's copy on its disk: same size, different content. */
function corrupt(node: KsNode, url: string): void {
  const path = join(node.datadir, url);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(path, bytes);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const readInTask = async (d: RemoteData) => {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(await d.raw()).digest('hex');
};

test.serial('one corrupt copy: checksums show it, a task elsewhere fails clearly, no bad copy is kept or registered', async (t) => {
  const content = Buffer.alloc(200_000, 'good data ');
  const data = dr(content);
  data.rpcUrl = h1.url;
  await data.save({ url: 'corrupt/one' });
  corrupt(h1, 'corrupt/one');

  const expected = (await c.dataInfo(['corrupt/one'])).data['corrupt/one'].info!.sha256;
  t.is(expected, sha(content));
  const sums = await c.checksums('corrupt/one');
  t.deepEqual(Object.keys(sums), ['h1']);
  t.not(sums.h1, expected, 'the holder hashes its disk, not the catalog');
  t.is(sums.h1, sha(readFileSync(join(h1.datadir, 'corrupt/one'))));

  const error = await t.throwsAsync(c.callWith({ queue: 'default|reader' }, readInTask, du('corrupt/one')), { instanceOf: RemoteError });
  t.is(error?.remoteName, 'KsError');
  t.regex(error?.message ?? '', /copy on node h1 is corrupt: 200000 bytes with sha256 [0-9a-f]{64}, but the catalog says 200000 bytes with sha256 [0-9a-f]{64}/);
  t.deepEqual(dataFiles(reader.datadir), [], 'no copy kept');
  await eventually(() => tempFiles(reader.datadir).length === 0, 2000, 'the temp file to go');
  t.deepEqual((await c.dataInfo(['corrupt/one'])).data['corrupt/one'].holders, ['h1'], 'the reader did not register');

  // A client reading through HTTP checks the hash too.
  const direct = du('corrupt/one');
  direct.rpcUrl = h1.url;
  const clientError = await t.throwsAsync(direct.raw(), { instanceOf: KsError });
  t.is(clientError?.code, 'corrupt_data');
});

test.serial('a corrupt copy and a good one: the task falls back to the good holder, verifies and keeps that copy', async (t) => {
  const content = Buffer.alloc(300_000, 'fallback ');
  const data = dr(content);
  data.rpcUrl = h1.url;
  await data.save({ url: 'corrupt/two' });
  t.is(await c.callWith({ queue: 'default|h2' }, readInTask, du('corrupt/two')), sha(content));
  t.deepEqual((await c.dataInfo(['corrupt/two'])).data['corrupt/two'].holders, ['h1', 'h2']);
  corrupt(h1, 'corrupt/two');

  const sums = await c.checksums('corrupt/two');
  t.not(sums.h1, sha(content));
  t.is(sums.h2, sha(content));

  // Holders are tried in name order: h1 (corrupt) first, then h2.
  t.is(await c.callWith({ queue: 'default|reader' }, readInTask, du('corrupt/two')), sha(content));
  t.regex(reader.output(), /could not copy data from a holder/);
  t.regex(reader.output(), /copy on node h1 is corrupt/);
  t.deepEqual((await c.dataInfo(['corrupt/two'])).data['corrupt/two'].holders, ['h1', 'h2', 'reader']);
  t.true(readFileSync(join(reader.datadir, 'corrupt/two')).equals(content));
});
