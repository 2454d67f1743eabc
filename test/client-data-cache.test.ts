import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { KsError, dr, du, setupClient, type Client } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';

let node: KsNode;
let c: Client;
const scratch = scratchDir('cache');
const cache = join(scratch.dir, 'cache');

test.before(async () => {
  process.env.KS_DATA_CACHE = cache;
  process.env.KS_DATA_CACHE_MAX = '2500';
  node = await startNode({ workers: 1 });
  c = setupClient(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  scratch.cleanup();
});

const pause = () => new Promise((r) => setTimeout(r, 30)); // distinct modification times

test.serial('localPath() keeps its cache within KS_DATA_CACHE_MAX, removing the least recently used copies first', async (t) => {
  const urls = ['cache/a', 'cache/b', 'cache/c'];
  for (const [i, url] of urls.entries()) await dr(Buffer.alloc(1000, i)).save({ url });

  const a = await du('cache/a').localPath();
  await pause();
  const b = await du('cache/b').localPath();
  await pause();
  t.deepEqual(readdirSync(cache).sort(), [a, b].map((p) => p.slice(cache.length + 1)).sort());
  const cPath = await du('cache/c').localPath(); // 3,000 bytes > 2,500: the oldest copy goes
  t.false(existsSync(a), 'a, the least recently used, was removed');
  t.true(existsSync(b) && existsSync(cPath));
  t.true(readFileSync(cPath).equals(Buffer.alloc(1000, 2)));

  await pause();
  t.is(await du('cache/b').localPath(), b); // a hit: b is now the most recently used
  await pause();
  const aAgain = await du('cache/a').localPath(); // downloaded again; c is now the oldest
  t.is(aAgain, a);
  t.true(existsSync(a) && existsSync(b));
  t.false(existsSync(cPath), 'c, now the least recently used, was removed');
});

test.serial('a copy larger than KS_DATA_CACHE_MAX is still returned whole; the rest of the cache makes room', async (t) => {
  await dr(Buffer.alloc(4000, 7)).save({ url: 'cache/big' });
  const big = await du('cache/big').localPath();
  t.is(readFileSync(big).length, 4000);
  t.deepEqual(readdirSync(cache), [big.slice(cache.length + 1)]);
});

test.serial('a KS_DATA_CACHE_MAX that is not a size is a clear error', async (t) => {
  process.env.KS_DATA_CACHE_MAX = 'lots';
  try {
    await t.throwsAsync(du('cache/b').localPath(), { instanceOf: KsError, message: /KS_DATA_CACHE_MAX: not a size/ });
  } finally {
    process.env.KS_DATA_CACHE_MAX = '2500';
  }
});
