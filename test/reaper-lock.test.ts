/**
 * The reaper's cluster-wide lock, against a real Redis: renewed while a pass runs, released by
 * its holder only, so a pass that outlasts its lock never deletes another node's.
 */
import test from 'ava';
import { withLock } from '../actors/node/reaper.js';
import { Store } from '../src/store/store.js';
import { startServices, type Services } from './helpers/cluster.js';
import { rawRedis } from './helpers/raw-redis.js';
import type { Redis } from 'ioredis';

let services: Services;
let store: Store;
/** this test's own client, to look at the lock and to take it as another node would */
let raw: Redis;

test.before(async () => {
  services = await startServices();
  store = await Store.connect(services.redisUrl, { prefix: 'lock' });
  raw = rawRedis(services.redisUrl);
});

test.after.always(async () => {
  raw?.disconnect();
  await store?.close();
  await services?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('a pass longer than the lock TTL keeps the lock (renewed), and releases it at the end', async (t) => {
  const key = 'lock:renewed';
  let held: (string | null)[] = [];
  // A TTL of 1 s (renewed every third of it) and a pass of 2.5 s: room for a loaded machine.
  const ran = await withLock(store, key, 'n1', 1000, async () => {
    await sleep(2500);
    held = [await raw.get(key), String(await raw.pttl(key))];
    t.false(await withLock(store, key, 'n2', 1000, async () => t.fail('a second holder ran')));
  });
  t.true(ran);
  t.regex(held[0] ?? '', /^n1 /);
  t.true(Number(held[1]) > 0, `PTTL ${held[1]}`);
  t.is(await raw.exists(key), 0);
});

test.serial('a pass whose lock lapsed and was taken by another node neither renews nor deletes that lock', async (t) => {
  const key = 'lock:lapsed';
  await withLock(store, key, 'n1', 300, async () => {
    // As if this process had stalled past the TTL and n2 then took the lock.
    await raw.set(key, 'n2 other-token', 'PX', 10_000);
    await sleep(700); // renewals of n1's lock are due meanwhile
  });
  t.is(await raw.get(key), 'n2 other-token');
  t.true(await raw.pttl(key) > 9000, 'n2\'s TTL was left alone (not set to n1\'s 300 ms)');
});
