/**
 * Futures (docs/futures.md) against real nodes: submit/await, microtask batching, status,
 * cancel, release, asCompleted, wait, gather, reattaching with c.future(jobId), and futures
 * as arguments (chains, a diamond, a reduce tree of 1,000 leaves, DependencyFailed).
 */
import test from 'ava';
import { CancelledError, Client, DependencyFailed, Future, KsError, RemoteError } from '../index.js';
import { batchOfJob } from '../src/ids.js';
import { startCluster, type SharedCluster } from './helpers/cluster.js';

let cluster: SharedCluster;
let c: Client;
let other: Client;

test.before(async () => {
  cluster = await startCluster([{ name: 'fut-a', workers: 2 }, { name: 'fut-b', workers: 2 }]);
  c = new Client(cluster.nodes[0].url, { output: 'silent' });
  other = new Client(cluster.nodes[1].url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await other?.close();
  await cluster?.stop();
});

const square = (x: number) => x * x;
const add = (a: number, b: number) => a + b;
const sleep = async (ms: number, value: string) => {
  await new Promise((r) => setTimeout(r, ms));
  return value;
};
const fails = (message: string) => {
  throw new RangeError(message);
};

test.serial('submit returns a thenable Future typed from fn; its id, result() and await agree', async (t) => {
  const f = c.submit(square, 7);
  t.true(f instanceof Future);
  const id = await f.id;
  t.regex(id, /^[0-9a-z]{19}-[0-9a-z]{5}$/);
  const value: number = await f;
  t.is(value, 49);
  t.is(await f.result(), 49);
  t.is(f.jobId, id);
  t.true(f.done);
});

test.serial('submits made in one tick go out as one batch, ids in submit order', async (t) => {
  const futures = Array.from({ length: 50 }, (_, i) => c.submit(square, i));
  const ids = await Promise.all(futures.map((f) => f.id));
  t.is(new Set(ids.map(batchOfJob)).size, 1);
  t.deepEqual([...ids].sort(), ids);
  t.deepEqual(await c.gather(futures), Array.from({ length: 50 }, (_, i) => i * i));
  // The next tick is another batch.
  const later = c.submit(square, 1);
  t.not(batchOfJob(await later.id), batchOfJob(ids[0]));
  await later;
});

test.serial('a failing job rejects its future with the RemoteError; a bad submit rejects id and result alike', async (t) => {
  const f = c.submit(fails, 'no');
  const error = await t.throwsAsync(f.result(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'RangeError');
  t.is(error!.jobId, await f.id);
  // An unknown registered name fails the whole submit (all or nothing).
  const good = c.submit(square, 2);
  const bad = c.submit('no-such-function', 1);
  await t.throwsAsync(bad.id, { instanceOf: KsError });
  await t.throwsAsync(good.result(), { instanceOf: KsError, message: /unknown function/ });
});

test.serial('status() says queued/running before delivery and done after; cancel() fails the future with CancelledError', async (t) => {
  const slow = c.submit(sleep, 3000, 'late');
  await slow.id;
  let status = await slow.status();
  for (let i = 0; i < 50 && status.state === 'queued'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await slow.status();
  }
  t.is(status.state, 'running');
  t.is(status.attempt, 1);
  t.false(status.delivered);
  await slow.cancel();
  await t.throwsAsync(slow.result(), { instanceOf: CancelledError });
  t.like(await slow.status(), { state: 'cancelled', delivered: true });

  const quick = c.submit(square, 3);
  await quick;
  t.like(await quick.status(), { state: 'done', delivered: true, id: await quick.id });
});

test.serial('asCompleted yields a 50 ms job before a 1 s job submitted earlier', async (t) => {
  const long = c.submit(sleep, 1000, 'long');
  const short = c.submit(sleep, 50, 'short');
  const order: string[] = [];
  for await (const f of c.asCompleted([long, short])) order.push(await f);
  t.deepEqual(order, ['short', 'long']);
});

test.serial('asCompleted yields failed futures too', async (t) => {
  const seen: string[] = [];
  for await (const f of c.asCompleted([c.submit(fails, 'x'), c.submit(square, 2)])) {
    try {
      seen.push(String(await f));
    } catch (error) {
      seen.push((error as RemoteError).remoteName);
    }
  }
  t.deepEqual([...seen].sort(), ['4', 'RangeError']);
});

test.serial('wait({ return: "first", timeoutMs: 100 }) returns with everything pending when nothing finishes', async (t) => {
  const futures = [c.submit(sleep, 1500, 'a'), c.submit(sleep, 1500, 'b')];
  const started = Date.now();
  const { done, pending } = await c.wait(futures, { return: 'first', timeoutMs: 100 });
  t.true(Date.now() - started < 1000);
  t.is(done.length, 0);
  t.deepEqual(pending, futures);
  const all = await c.wait(futures, { return: 'all' });
  t.is(all.done.length, 2);
  t.is(all.pending.length, 0);
});

test.serial('wait({ return: "first" }) counts a failure as done', async (t) => {
  const failing = c.submit(fails, 'early');
  const slow = c.submit(sleep, 1500, 'slow');
  const { done, pending } = await c.wait([slow, failing], { return: 'first' });
  t.deepEqual(done, [failing]);
  t.deepEqual(pending, [slow]);
  await slow;
});

test.serial('gather raises the first failure, or settles every outcome in order', async (t) => {
  const make = () => [c.submit(square, 2), c.submit(fails, 'bad'), c.submit(square, 3)] as const;
  await t.throwsAsync(c.gather(make()), { instanceOf: RemoteError, message: 'bad' });
  const settled = await c.gather(make(), { errors: 'settle' });
  t.like(settled[0], { status: 'fulfilled', value: 4 });
  t.is(settled[1].status, 'rejected');
  t.like(settled[2], { status: 'fulfilled', value: 9 });
  // a typed tuple
  const [n, s]: [number, string] = await c.gather([c.submit(square, 5), c.submit(sleep, 1, 'x')]);
  t.deepEqual([n, s], [25, 'x']);
});

test.serial('c.future(jobId) reattaches from another client on another node; the outcome is delivered once', async (t) => {
  c.bc(square, 11);
  c.bc(square, 12);
  const ids = await c.execute();
  const reattached = other.future<number>(ids[0]);
  t.is(await reattached, 121);
  t.is(await reattached.id, ids[0]);
  // Delivered: asking again, from any client, is not_found (once the delivering node deleted
  // the record: lazily, within 20 ms, architecture §3 step 7).
  await new Promise((r) => setTimeout(r, 100));
  const again = c.future(ids[0]);
  const error = await t.throwsAsync(again.result(), { instanceOf: KsError });
  t.is(error!.code, 'not_found');
  // The same client asking twice for a job it is waiting for gets the same future.
  t.is(other.future(ids[1]), other.future(ids[1]));
  t.is(await other.future(ids[1]), 144);
});

test.serial('release(): the value is dropped, the future can no longer be awaited or passed on', async (t) => {
  const f = c.submit(square, 4);
  t.is(await f, 16);
  f.release();
  t.true(f.released);
  await t.throwsAsync(f.result(), { instanceOf: KsError, message: /released/ });
  t.throws(() => c.submit(add, f, 1), { instanceOf: KsError, message: /released/ });
});

test.serial('futures as arguments: a chain, one level inside arrays and objects, and a diamond', async (t) => {
  const a = c.submit(square, 3);
  const b = c.submit(add, a, 1); // 10
  const sum = c.submit((xs: number[]) => xs.reduce((s, x) => s + x, 0), [a, b, 5]); // 24
  const obj = c.submit((o: { x: number; y: number }) => o.x * o.y, { x: a, y: 2 }); // 18
  t.deepEqual(await c.gather([b, sum, obj]), [10, 24, 18]);

  // diamond: top -> left, right -> bottom
  const top = c.submit(square, 2);
  const left = c.submit(add, top, 1);
  const right = c.submit(add, top, 2);
  const bottom = c.submit(add, left, right);
  t.is(await bottom, 11);
  // each job ran once: four distinct ids
  t.is(new Set(await Promise.all([top, left, right, bottom].map((f) => f.id))).size, 4);
});

test.serial('a failed or cancelled input fails its dependent with DependencyFailed naming the input', async (t) => {
  const bad = c.submit(fails, 'broken input');
  const dependent = c.submit(square, bad as unknown as Future<number>);
  const error = await t.throwsAsync(dependent.result(), { instanceOf: DependencyFailed });
  t.is(error!.jobId, await bad.id);
  t.regex(error!.message, new RegExp(`input job ${await bad.id} failed: RangeError: broken input`));
  t.true(error instanceof RemoteError);

  const slow = c.submit(sleep, 5000, 'never');
  const after = c.submit((s: string) => s.length, slow);
  await slow.id;
  await slow.cancel();
  await t.throwsAsync(after.result(), { instanceOf: DependencyFailed, message: /CancelledError/ });
  // bc/execute and call take futures too
  const x = c.submit(square, 6);
  t.is(await c.call(add, x, 1), 37);
});

test.serial('a reduce tree over 1,000 leaves', async (t) => {
  const leaf = (n: number) => n;
  let level = Array.from({ length: 1000 }, (_, i) => c.submit(leaf, i));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      const sum = c.submit(add, level[i], level[i + 1] ?? 0);
      next.push(sum);
    }
    level = next;
  }
  t.is(await level[0], (999 * 1000) / 2);
});

test.serial('cancelling a dependent that waits for its inputs: it is never submitted', async (t) => {
  const input = c.submit(sleep, 400, 'input');
  const dependent = c.submit((s: string) => s.toUpperCase(), input);
  await dependent.cancel();
  await t.throwsAsync(dependent.result(), { instanceOf: CancelledError, message: /before it was submitted/ });
  await t.throwsAsync(dependent.id, { instanceOf: CancelledError });
  t.is(await input, 'input');
});

test.serial('wait() in a loop, Dask style, until nothing is pending', async (t) => {
  let pending = [50, 150, 100].map((ms) => c.submit(sleep, ms, String(ms)));
  const order: string[] = [];
  while (pending.length > 0) {
    const result = await c.wait(pending, { return: 'first' });
    for (const f of result.done) order.push(await f);
    pending = result.pending;
  }
  t.deepEqual(order, ['50', '100', '150']);
});
