/**
 * Per-call job policies (docs/futures.md) on a real node: retries (with backoff, retryOn,
 * never a cancel), priority, delayMs and resultTtlMs.
 */
import test from 'ava';
import { CancelledError, Client, KsError, RemoteError, TimeoutError } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { sideEffects } from './helpers/outcomes.js';

let node: KsNode;
let c: Client;
const runs = sideEffects();

test.before(async () => {
  node = await startNode({ name: 'policies', workers: 2 });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  runs.remove();
});

/** Appends `<tag> <attempt> <ms>` for each run; fails (RangeError) until attempt `okAt`. */
const flaky = async (dir: string, tag: string, okAt: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const { attempt } = taskContext();
  appendFileSync(`${dir}/runs`, `${tag} ${attempt} ${Date.now()}\n`);
  if (attempt < okAt) throw new RangeError(`attempt ${attempt} fails`);
  return attempt;
};

const runsOf = (tag: string) => runs.lines().filter((l) => l.startsWith(`${tag} `)).map((l) => {
  const [, attempt, at] = l.split(' ');
  return { attempt: Number(attempt), at: Number(at) };
});

test.serial('a retry that succeeds on the third attempt; each attempt in taskContext and the status', async (t) => {
  const f = c.submitWith({ retries: 5, retryDelayMs: 20 }, flaky, runs.dir, 'third', 3);
  t.is(await f, 3);
  t.deepEqual(runsOf('third').map((r) => r.attempt), [1, 2, 3]);
  t.like(await f.status(), { state: 'done', delivered: true });
});

test.serial('retries used up: the last failure is reported; retryBackoff spaces the attempts (±20 % jitter)', async (t) => {
  const f = c.submitWith({ retries: 2, retryDelayMs: 200, retryBackoff: 2 }, flaky, runs.dir, 'used-up', 10);
  const error = await t.throwsAsync(f.result(), { instanceOf: RemoteError });
  t.is(error!.message, 'attempt 3 fails');
  const seen = runsOf('used-up');
  t.deepEqual(seen.map((r) => r.attempt), [1, 2, 3]);
  t.true(seen[1].at - seen[0].at >= 160, `first delay ${seen[1].at - seen[0].at} ms`);
  t.true(seen[2].at - seen[1].at >= 320, `second delay ${seen[2].at - seen[1].at} ms`);
});

test.serial('retryOn: an error it does not name is not retried; without retries nothing is', async (t) => {
  await t.throwsAsync(c.submitWith({ retries: 3, retryOn: ['TimeoutError'] }, flaky, runs.dir, 'not-listed', 3).result(), { instanceOf: RemoteError });
  t.is(runsOf('not-listed').length, 1);
  await t.throwsAsync(c.submit(flaky, runs.dir, 'no-policy', 3).result(), { instanceOf: RemoteError });
  t.is(runsOf('no-policy').length, 1);
  // bcWith carries the policies too
  c.bcWith({ retries: 1 }, flaky, runs.dir, 'bc', 2);
  t.deepEqual(await c.br(), [2]);
});

test.serial('a TimeoutError is retried by default; a cancelled job never is', async (t) => {
  const slowFirst = async (dir: string) => {
    const { appendFileSync } = await import('node:fs');
    const { taskContext } = await import('kitchensink');
    const { attempt } = taskContext();
    appendFileSync(`${dir}/runs`, `timeout ${attempt} ${Date.now()}\n`);
    if (attempt === 1) await new Promise((r) => setTimeout(r, 2000));
    return attempt;
  };
  t.is(await c.submitWith({ retries: 2, timeoutMs: 300 }, slowFirst, runs.dir), 2);

  const sleeper = async (dir: string) => {
    const { appendFileSync } = await import('node:fs');
    appendFileSync(`${dir}/runs`, `cancel 1 ${Date.now()}\n`);
    await new Promise((r) => setTimeout(r, 5000));
  };
  const f = c.submitWith({ retries: 5 }, sleeper, runs.dir);
  for (let i = 0; i < 100 && runsOf('cancel').length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await f.cancel();
  await t.throwsAsync(f.result(), { instanceOf: CancelledError });
  await new Promise((r) => setTimeout(r, 500));
  t.is(runsOf('cancel').length, 1);
  // an unretried timeout stays a TimeoutError
  await t.throwsAsync(c.submitWith({ timeoutMs: 100 }, slowFirst, runs.dir).result(), { instanceOf: TimeoutError });
});

test.serial('delayMs: the job is claimable only that long after its submit', async (t) => {
  const now = () => Date.now();
  const submitted = Date.now();
  const [delayed, plain] = [c.submitWith({ delayMs: 700 }, now), c.submit(now)];
  const [delayedAt, plainAt] = await c.gather([delayed, plain]);
  t.true(delayedAt - submitted >= 700, `started ${delayedAt - submitted} ms after the submit`);
  t.true(plainAt < delayedAt);
});

test.serial('a high-priority job submitted behind 10,000 low ones starts before any low one claimed after its submit', async (t) => {
  const low = async () => {
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    return started;
  };
  const lows = Array.from({ length: 10_000 }, () => c.submit(low));
  await lows[0].id;
  await new Promise((r) => setTimeout(r, 300)); // the two threads are busy with low jobs
  const high = c.submitWith({ priority: 5 }, () => Date.now());
  await high.id;
  const acceptedAt = Date.now();
  const highStart = await high;
  await c.bulkCancel(await Promise.all(lows.map((f) => f.id)));
  const settled = await c.gather(lows, { errors: 'settle' });
  const lowStarts = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  t.true(lowStarts.length < 5_000, `${lowStarts.length} low jobs ran`);
  // At most one per thread may have been claimed while the high one's submit was written.
  const between = lowStarts.filter((at) => at > acceptedAt && at < highStart);
  t.true(between.length <= 2, `${between.length} low jobs started after the high one was accepted and before it started`);
  t.true(highStart - acceptedAt < 1000, `the high one started ${highStart - acceptedAt} ms after it was accepted`);
});

test.serial('resultTtlMs: an outcome nobody collects expires after that long', async (t) => {
  c.bcWith({ resultTtlMs: 300 }, (x: number) => x, 1);
  c.bc((x: number) => x, 2);
  const [short, normal] = await c.execute();
  await new Promise((r) => setTimeout(r, 1200));
  const settled = await c.settledResults([short, normal]);
  t.is(settled[0].status, 'rejected');
  t.like((settled[0] as PromiseRejectedResult).reason, { code: 'not_found' });
  t.like(settled[1], { status: 'fulfilled', value: 2 });
  t.true((settled[0] as PromiseRejectedResult).reason instanceof KsError);
});

test.serial('bad policies are refused at the call site', (t) => {
  t.throws(() => c.submitWith({ priority: 1.5 }, () => 1), { instanceOf: KsError, message: /priority must be an integer/ });
  t.throws(() => c.submitWith({ priority: 5000 }, () => 1), { instanceOf: KsError, message: /priority/ });
  t.throws(() => c.bcWith({ retries: -1 }, () => 1), { instanceOf: KsError, message: /retries/ });
  t.throws(() => c.submitWith({ retryBackoff: 0.5 }, () => 1), { instanceOf: KsError, message: /retryBackoff/ });
  t.throws(() => c.submitWith({ delayMs: -5 }, () => 1), { instanceOf: KsError, message: /delayMs/ });
});
