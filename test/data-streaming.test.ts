import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import test from 'ava';
import { request } from 'undici';
import { Client, KsError, setupClient, dr, du, type RemoteData } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { dataFiles, eventually, generated, tempFiles } from './helpers/data.js';

let node: KsNode;
let c: Client;
/** the node drops an upload that sends nothing for this long */
const UPLOAD_IDLE_MS = 2000;

test.before(async () => {
  node = await startNode({ workers: 1, flags: ['--upload-idle', String(UPLOAD_IDLE_MS)] });
  c = setupClient(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

async function hashOf(stream: AsyncIterable<unknown>): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

const upload = (url: string, body: NodeJS.ReadableStream | Buffer | string, headers: Record<string, string> = {}) =>
  request(new URL(`rpc/data/${url}`, node.url), { method: 'POST', body: body as never, headers: { 'content-type': 'application/octet-stream', ...headers } });

test.serial('a 32 MiB chunked upload streams to disk and downloads with its sha256, size and format headers', async (t) => {
  const expected = await hashOf(generated(32));
  const response = await upload('stream/big.bin?fmt=file', generated(32));
  t.is(response.statusCode, 200);
  t.like(await response.body.json(), { url: 'stream/big.bin', size: 32 << 20, sha256: expected.sha256, fmt: 'file' });

  const download = await request(new URL('rpc/data/stream/big.bin', node.url));
  t.is(download.statusCode, 200);
  t.is(download.headers['content-length'], String(32 << 20));
  t.is(download.headers['x-ks-sha256'], expected.sha256);
  t.is(download.headers['x-ks-size'], String(32 << 20));
  t.is(download.headers['x-ks-fmt'], 'file');
  t.deepEqual(await hashOf(download.body), expected);
});

test.serial('range reads: offset and length, in the client, over HTTP and in a task', async (t) => {
  const bytes = Buffer.from('0123456789abcdefghij');
  await dr(bytes).save({ url: 'stream/range' });
  const ref = du('stream/range');
  t.is((await ref.raw({ offset: 5, length: 4 })).toString(), '5678');
  t.is((await ref.raw({ offset: 15 })).toString(), 'fghij');
  t.is((await ref.raw({ length: 3 })).toString(), '012');
  t.is((await ref.raw({ offset: 18, length: 100 })).toString(), 'ij', 'a length past the end stops at the end');
  t.is((await ref.raw({ offset: 20 })).length, 0);

  const http = await request(new URL('rpc/data/stream/range?offset=10&length=5', node.url));
  t.is(http.headers['content-length'], '5');
  t.is(http.headers['x-ks-size'], '20', 'the size header is the whole data\'s');
  t.is(await http.body.text(), 'abcde');

  for (const query of ['offset=21', 'offset=-1', 'length=x', 'offset=1.5']) {
    const bad = await request(new URL(`rpc/data/stream/range?${query}`, node.url));
    t.is(bad.statusCode, 400, query);
    t.like(await bad.body.json(), { code: 'bad_request' });
  }
  const inTask = await c.call(async (d: RemoteData) => (await d.raw({ offset: 2, length: 6 })).toString(), ref);
  t.is(inTask, '234567');
});

test.serial('an upload the client abandons halfway leaves no file, no temp file and no catalog entry; the url can then be saved', async (t) => {
  const aborted = upload('stream/abandoned', generated(40, { failAfterMb: 8 }));
  await t.throwsAsync(aborted);
  await eventually(async () => (await c.dataInfo(['stream/abandoned'])).data['stream/abandoned'].state === 'absent', 5000, 'the claim to be released');
  await eventually(() => tempFiles(node.datadir).length === 0, 5000, 'the temp file to be removed');
  t.false(dataFiles(node.datadir).includes('stream/abandoned'));

  await dr(Buffer.from('complete')).save({ url: 'stream/abandoned' });
  t.is((await du('stream/abandoned').raw()).toString(), 'complete');
});

test.serial('an upload that stalls (its client sends nothing, the connection stays open) is dropped after --upload-idle: nothing kept, url free again', async (t) => {
  const started = Date.now();
  const closed = new Promise<void>((resolve) => {
    const stalled = httpRequest(new URL('rpc/data/stream/stalled', node.url), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(4 << 20) },
    });
    stalled.on('error', () => resolve());
    stalled.on('response', (response) => {
      response.resume();
      response.on('close', () => resolve());
    });
    stalled.write(Buffer.alloc(64 << 10, 1)); // then nothing more, and the socket stays open
  });
  await eventually(async () => (await c.dataInfo(['stream/stalled'])).data['stream/stalled'].state === 'starting', 5000, 'the upload to claim its url');
  await closed;
  t.true(Date.now() - started >= UPLOAD_IDLE_MS - 100, `dropped after ${Date.now() - started} ms`);
  await eventually(async () => (await c.dataInfo(['stream/stalled'])).data['stream/stalled'].state === 'absent', 5000, 'the claim to be released');
  await eventually(() => tempFiles(node.datadir).length === 0, 5000, 'the temp file to be removed');
  t.false(dataFiles(node.datadir).includes('stream/stalled'));
  await dr(Buffer.from('after the stall')).save({ url: 'stream/stalled' });
  t.is((await du('stream/stalled').raw()).toString(), 'after the stall');
});

test.serial('bytes that do not match the sha256 the client announced are refused and not kept', async (t) => {
  const response = await upload('stream/tampered', 'the bytes that arrive', { 'x-ks-expect-sha256': createHash('sha256').update('other bytes').digest('hex') });
  t.is(response.statusCode, 400);
  t.regex(((await response.body.json()) as { error: string }).error, /corrupted on the way/);
  t.is((await c.dataInfo(['stream/tampered'])).data['stream/tampered'].state, 'absent');
  t.false(dataFiles(node.datadir).includes('stream/tampered'));
  t.deepEqual(tempFiles(node.datadir), []);
});

test.serial('a download the client drops midway leaves the node serving', async (t) => {
  const response = await request(new URL('rpc/data/stream/big.bin', node.url));
  for await (const _chunk of response.body) break; // read one chunk, then hang up
  t.is((await du('stream/range').raw({ length: 4 })).toString(), '0123');
  const again = await request(new URL('rpc/data/stream/big.bin', node.url));
  t.is((await hashOf(again.body)).size, 32 << 20);
});

test.serial('reading a url that holds no data is a 404, in the client and over HTTP', async (t) => {
  await t.throwsAsync(du('stream/missing').obj(), { instanceOf: KsError, message: /no data at url "stream\/missing"/ });
  const response = await request(new URL('rpc/data/stream/missing', node.url));
  t.is(response.statusCode, 404);
  t.like(await response.body.json(), { code: 'not_found' });
});
