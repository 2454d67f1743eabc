import test from 'ava';
import { startRedisServer, type RedisServerProcess } from '../benchmarks/lib/redis-server.js';
import type { DataLoss } from '../src/store/epoch.js';
import { Store } from '../src/store/store.js';
import { rawRedis } from './helpers/raw-redis.js';
import type { Redis } from 'ioredis';

let redis: RedisServerProcess;
/** this test's own client, to read and tamper with the epoch key */
let raw: Redis;

test.before(async () => {
  redis = await startRedisServer();
  raw = rawRedis(redis.url);
});

test.after.always(async () => {
  raw?.disconnect();
  await redis?.stop();
});

/** Two nodes' stores on one Redis, each with its epoch established and its losses recorded. */
async function twoStores(t: { teardown(fn: () => Promise<void>): void }, prefix: string) {
  const stores = await Promise.all([0, 1].map(() => Store.connect(redis.url, { prefix })));
  for (const store of stores) t.teardown(() => store.close());
  const losses: DataLoss[][] = [[], []];
  stores.forEach((store, i) => store.onDataLoss((loss) => losses[i].push(loss)));
  const established = await Promise.all(stores.map((s) => s.epoch.establish()));
  return { stores, losses, established };
}

/** What a heartbeat does: read the epoch and check it against the one expected when sent. */
async function heartbeat(store: Store): Promise<void> {
  const expected = store.epoch.expected;
  await store.epoch.check(await raw.get(store.keys.epoch), expected);
}

test.serial('the epoch is written once: every node adopts the first value; an unchanged epoch signals nothing', async (t) => {
  const { stores, losses, established } = await twoStores(t, 'same');
  t.regex(established[0], /^[0-9a-f]{24}$/);
  t.is(established[1], established[0]);
  await Promise.all(stores.map(heartbeat));
  t.deepEqual(losses, [[], []]);
});

test.serial('FLUSHALL: each node sees the loss once, both adopt one new epoch, a stale read is ignored', async (t) => {
  const { stores, losses, established } = await twoStores(t, 'flushed');
  const staleExpected = stores[0].epoch.expected;
  await raw.flushall();
  // Both heartbeats read the missing key at once; each re-creates with SET NX: one value wins.
  await Promise.all(stores.map(heartbeat));
  t.is(losses[0].length, 1);
  t.is(losses[1].length, 1);
  const [a] = losses[0];
  const [b] = losses[1];
  t.like(a, { previous: established[0], found: null });
  t.is(a.current, b.current);
  t.not(a.current, established[0]);
  t.is(await raw.get(stores[0].keys.epoch), a.current);
  t.is(stores[1].epoch.expected, a.current);
  // A heartbeat sent before the node adopted the new epoch answers with the missing key: not a second loss.
  await stores[0].epoch.check(null, staleExpected);
  await Promise.all(stores.map(heartbeat));
  t.is(losses[0].length, 1);
  t.is(losses[1].length, 1);
});

test.serial('a changed epoch (another node re-created it first) is a loss too, and the node adopts that value', async (t) => {
  const { stores, losses } = await twoStores(t, 'changed');
  await raw.set(stores[0].keys.epoch, 'ffffffffffffffffffffffff');
  await heartbeat(stores[1]);
  t.is(losses[1].length, 1);
  t.like(losses[1][0], { found: 'ffffffffffffffffffffffff', current: 'ffffffffffffffffffffffff' });
  t.is(losses[0].length, 0, 'the other node has not read it yet');
  await heartbeat(stores[0]);
  t.is(losses[0].length, 1);
});
