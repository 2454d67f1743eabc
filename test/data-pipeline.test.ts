import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Client, dr, du } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles, generated, tempFiles } from './helpers/data.js';

let services: Services;
let nodes: Record<string, KsNode>;
let c: Client;

test.before(async () => {
  services = await startServices();
  // c3 keeps 1 PiB free, so it refuses every copy: the chain breaks there.
  const started = await Promise.all(['a1', 'b2', 'c3', 'd4', 'e5'].map((name) => startNode({
    name, services, workers: 1, flags: name === 'c3' ? ['--min-free-disk', '1024TiB'] : [],
  })));
  nodes = Object.fromEntries(started.map((n) => [n.name, n]));
  c = new Client(nodes.a1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all(Object.values(nodes ?? {}).map((n) => n.stop()));
  await services?.stop();
});

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test.serial('pipeline() streams a url node to node to every writable node; a node that fails is reported and skipped', async (t) => {
  const content = await bytesOf(generated(8));
  const data = dr(content);
  data.rpcUrl = nodes.a1.url;
  await data.save({ url: 'pipeline/big.bin' });

  const report = await data.pipeline();
  t.deepEqual(report.holders, ['a1', 'b2', 'd4', 'e5']);
  t.deepEqual(Object.keys(report.failed), ['c3']);
  t.regex(report.failed.c3, /not enough disk space/);

  const expected = (await c.dataInfo(['pipeline/big.bin'])).data['pipeline/big.bin'];
  t.deepEqual(expected.holders, ['a1', 'b2', 'd4', 'e5']);
  const sums = await c.checksums('pipeline/big.bin');
  t.deepEqual(sums, { a1: expected.info!.sha256, b2: expected.info!.sha256, d4: expected.info!.sha256, e5: expected.info!.sha256 });
  for (const name of ['b2', 'd4', 'e5']) {
    t.true(readFileSync(join(nodes[name].datadir, 'pipeline/big.bin')).equals(content), `${name}'s copy`);
  }
  for (const node of Object.values(nodes)) t.deepEqual(tempFiles(node.datadir), [], `${node.name} left no temp file`);
  t.deepEqual(dataFiles(nodes.c3.datadir), []);
});

test.serial('pipeline() again finds nothing to copy', async (t) => {
  const ref = du('pipeline/big.bin');
  ref.rpcUrl = nodes.a1.url;
  const report = await ref.pipeline();
  t.deepEqual(report.holders, ['a1', 'b2', 'd4', 'e5']);
  t.deepEqual(Object.keys(report.failed), ['c3']);
});

test.serial('pipeline() asked of a node that does not hold the data has a holder start the chain', async (t) => {
  const content = Buffer.alloc(500_000, 'only on e5 ');
  const data = dr(content);
  data.rpcUrl = nodes.e5.url;
  await data.save({ url: 'pipeline/from-e5' });
  const ref = du('pipeline/from-e5');
  ref.rpcUrl = nodes.b2.url;
  const report = await ref.pipeline();
  t.deepEqual(report.holders, ['a1', 'b2', 'd4', 'e5']);
  t.deepEqual(Object.keys(report.failed), ['c3']);
  t.true(readFileSync(join(nodes.a1.datadir, 'pipeline/from-e5')).equals(content));
});
