import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'ava';
import { Client as HttpClient } from 'undici';
import { encode } from '../src/codec.js';
import { Client, RemoteError, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles } from './helpers/data.js';

let services: Services;
let n1: KsNode;
let n2: KsNode;
let c: Client;
let http: HttpClient;
let outside: string;

test.before(async () => {
  services = await startServices();
  [n1, n2] = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 1 })));
  c = new Client(n1.url, { output: 'silent' });
  // undici's own Client sends paths as given (no `..` folding), as a hostile client would.
  http = new HttpClient(new URL(n1.url).origin);
  outside = mkdtempSync(join(tmpdir(), 'ks-canary-'));
  writeFileSync(join(outside, 'canary'), 'canary');
  symlinkSync(outside, join(n1.datadir, 'link'));
  symlinkSync(join(outside, 'canary'), join(n1.datadir, 'filelink'));
});

test.after.always(async () => {
  await http?.close();
  await c?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
  await services?.stop();
  rmSync(outside, { recursive: true, force: true });
});

/** The url as a request path (already percent-encoded where it needs to be). */
const hostile = () => [
  `../${basename(outside)}/canary`,
  '../x',
  '%2Fetc%2Fpasswd',
  '/etc/passwd',
  'a/../../b',
  `..%2F${basename(outside)}%2Fcanary`,
  '%2E%2E/x',
  'a//b',
  'a%00b',
  '',
  'x'.repeat(1025),
  'x'.repeat(256),
  `a/${'%C3%A9'.repeat(128)}/b`,
  '.ks/redis/appendonly.aof',
];

const routes: [string, string, string | undefined][] = [
  ['GET', '/rpc/data/', undefined],
  ['POST', '/rpc/data/', 'new bytes'],
  ['DELETE', '/rpc/data/', undefined],
  ['GET', '/rpc/data-checksum/', undefined],
  ['GET', '/rpc/data-checksums/', undefined],
  ['POST', '/rpc/data-pipeline/', undefined],
  ['PUT', '/rpc/data-copy/', 'new bytes'],
];

test.serial('every hostile url gets a 400 on every data route', async (t) => {
  for (const url of hostile()) {
    for (const [method, route, body] of routes) {
      const response = await http.request({
        method: method as 'GET',
        path: route + url,
        body,
        headers: body === undefined ? {} : { 'content-type': 'application/octet-stream' },
      });
      const answer = (await response.body.json()) as { error: string; code: string };
      t.is(response.statusCode, 400, `${method} ${route}${url.slice(0, 40)}: ${answer.error}`);
      t.is(answer.code, 'bad_request');
      t.regex(answer.error, /invalid data url/);
    }
  }
  for (const url of ['../x', '/etc/passwd', 'a//b', '', 'a\0b']) {
    const info = await http.request({ method: 'POST', path: '/rpc/data-info', body: Buffer.from(encode({ urls: [url] })), headers: { 'content-type': 'application/cbor' } });
    t.is(info.statusCode, 400, `data-info ${JSON.stringify(url)}`);
    await info.body.dump();
    const reduce = await http.request({ method: 'POST', path: '/rpc/data-reduce', body: Buffer.from(encode({ urls: [url], keep: 1 })), headers: { 'content-type': 'application/cbor' } });
    t.is(reduce.statusCode, 400, `data-reduce ${JSON.stringify(url)}`);
    await reduce.body.dump();
  }
});

test.serial('a symlink inside the data directory is never followed, for reads or writes', async (t) => {
  const write = await http.request({ method: 'POST', path: '/rpc/data/link/new', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  t.is(write.statusCode, 400);
  t.regex(((await write.body.json()) as { error: string }).error, /goes through a symlink/);

  const overwrite = await http.request({ method: 'POST', path: '/rpc/data/filelink', body: 'overwritten', headers: { 'content-type': 'application/octet-stream' } });
  t.is(overwrite.statusCode, 409, 'something is already at that name: nothing is written through it');
  await overwrite.body.dump();

  for (const path of ['/rpc/data-checksum/link/canary', '/rpc/data-checksum/filelink']) {
    const read = await http.request({ method: 'GET', path });
    t.is(read.statusCode, 400, path);
    t.regex(((await read.body.json()) as { error: string }).error, /symlink/);
  }

  // Data the catalog knows under that name (saved on n2, where it is a plain path): n1's task
  // must not read through n1's symlink, nor store a copy through it.
  const data = dr(Buffer.from('the real data'));
  data.rpcUrl = n2.url;
  await data.save({ url: 'link/canary' });
  const error = await t.throwsAsync(c.callWith({ queue: 'default|n1' }, async (d: RemoteData) => (await d.raw()).toString(), du('link/canary')), { instanceOf: RemoteError });
  t.regex(error?.message ?? '', /symlink/);
  t.deepEqual((await c.dataInfo(['link/canary'])).data['link/canary'].holders, ['n2']);
});

test.serial('a 255-byte name is stored and read back: the limit is the filesystem\'s own', async (t) => {
  const url = `long/${'é'.repeat(127)}x`;
  const data = dr(Buffer.from('fits'));
  data.rpcUrl = n1.url;
  await data.save({ url });
  t.is((await data.raw()).toString(), 'fits');
  t.deepEqual(await c.deleteData(url), ['n1']);
});

test.serial('a filesystem error on a data route is a clear 4xx in terms of the url, never showing the node\'s paths', async (t) => {
  // A datadir path near PATH_MAX (4,096 bytes): a valid 600-byte url then makes a path the
  // kernel refuses (ENAMETOOLONG) where the node checks or makes its folders.
  const base = mkdtempSync(join(tmpdir(), 'ks-deep-'));
  const deep = join(base, ...Array.from({ length: 14 }, () => 'd'.repeat(250)));
  mkdirSync(deep, { recursive: true });
  const node = await startNode({ name: 'deep', services, workers: 1, datadir: deep });
  t.teardown(async () => {
    await node.stop();
    rmSync(base, { recursive: true, force: true });
  });
  const deepHttp = new HttpClient(new URL(node.url).origin);
  t.teardown(() => deepHttp.close());
  const url = ['a', 'b', 'c'].map((s) => s.repeat(200)).join('/');
  for (const [method, route, body] of [['POST', '/rpc/data/', 'bytes'], ['GET', '/rpc/data-checksum/', undefined]] as const) {
    const response = await deepHttp.request({ method, path: route + url, body, headers: body ? { 'content-type': 'application/octet-stream' } : {} });
    const answer = (await response.body.json()) as { error: string; code: string };
    t.true(response.statusCode === 400 || response.statusCode === 404, `${method} ${route}: ${response.statusCode} ${answer.error}`);
    t.false(answer.error.includes(base) || answer.error.includes('dddd'), `no path of the node in: ${answer.error}`);
    if (method === 'POST') {
      t.is(answer.code, 'bad_request');
      t.regex(answer.error, /cannot be stored or read on this node: its path is longer than this node's filesystem allows/);
    }
  }
  t.deepEqual(readdirSync(join(deep, '.ks', 'tmp')), [], 'nothing half-written stays');
  t.is((await c.dataInfo([url])).data[url].state, 'absent', 'and the claim was given up');
  const small = dr(Buffer.from('still serving'));
  small.rpcUrl = node.url;
  await small.save({ url: 'deep/ok' });
  t.is((await small.raw()).toString(), 'still serving');
});

test.serial('nothing outside the data directory was read or written, and the node still serves', async (t) => {
  t.is(readFileSync(join(outside, 'canary'), 'utf8'), 'canary');
  t.deepEqual(readdirSync(outside), ['canary'], 'no file was created outside');
  t.deepEqual(dataFiles(n1.datadir), ['filelink', 'link'], 'n1 stored nothing: only the planted symlinks are there');
  t.deepEqual(readdirSync(join(n1.datadir, '.ks', 'tmp')), []);
  t.true((await c.ping()).ok);
});
