/**
 * Job history on real nodes: a failed job is found by `ks jobs --failed --json` with its stack
 * and output tail (and by `ks job`, `ks logs`); `ks logs --follow` streams a running job's
 * output; `ks cancel --all` cancels queued and running jobs, which history records as
 * cancelled; the (max+1)-th job pushes out the oldest; a short --history-ttl expires entries;
 * a node started with other limits than its cluster's warns. Three clusters (prefixes) share
 * one Redis and NATS.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { Client, RemoteError, type JobHistoryEntry } from '../index.js';
import { HISTORY_DEFAULTS } from '../src/job-history.js';
import { PackedFields } from '../src/store/packed-fields.js';
import { Store } from '../src/store/store.js';
import { runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let main: KsNode;
let small: KsNode;
let brief: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [main, small, brief] = await Promise.all([
    startNode({ name: 'h-main', services }),
    startNode({ name: 'h-small', services, flags: ['--prefix', 'mx', '--history-max', '5'] }),
    startNode({ name: 'h-brief', services, flags: ['--prefix', 'tt', '--history-ttl', '1500'] }),
  ]);
  c = new Client(main.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([main, small, brief].map((n) => n?.stop()));
  await services?.stop();
});

function failing(x: number): never {
  console.log(`about to fail with ${x}`);
  console.error('a line on stderr');
  throw new RangeError(`boom ${x}`);
}

function echo(x: number): number {
  return x;
}

async function ksJson<T>(args: string[]): Promise<T> {
  const run = await runKs([...args, '--json']);
  if (run.code !== 0) throw new Error(`ks ${args.join(' ')} failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.serial('a failed job is found by ks jobs --failed --json with its stack and output tail; ks job and ks logs show it', async (t) => {
  c.bc(echo, 1);
  c.bc(failing, 42);
  const [okId, failedId] = await c.execute();
  await t.throwsAsync(c.br(), { instanceOf: RemoteError, message: /boom 42/ });

  const failed = await eventually(() => ksJson<JobHistoryEntry[]>(['jobs', '--url', main.url, '--failed']), (jobs) => jobs.length > 0);
  t.deepEqual(failed.map((j) => j.id), [failedId], 'only the failed job');
  const entry = failed[0];
  t.is(entry.outcome, 'error');
  t.is(entry.fn, 'failing');
  t.is(entry.queue, 'default');
  t.is(entry.node, 'h-main');
  t.is(entry.error?.name, 'RangeError');
  t.regex(entry.error?.stack ?? '', /RangeError: boom 42\n\s+at failing/);
  t.regex(entry.output, /about to fail with 42\n/);
  t.regex(entry.output, /a line on stderr/);
  t.true(entry.submitted <= entry.started && entry.started <= entry.ended, `times in order: ${entry.submitted} ${entry.started} ${entry.ended}`);

  const all = await ksJson<JobHistoryEntry[]>(['jobs', '--url', main.url, '--since', '1m']);
  t.deepEqual(all.map((j) => j.id).sort(), [okId, failedId].sort());
  const ok = all.find((j) => j.id === okId);
  t.like(ok, { outcome: 'ok', fn: 'echo', queue: 'default', node: 'h-main', output: '', outputChars: 0 }, 'an ok job without output (a compact entry) reads back whole');
  t.true(ok !== undefined && ok.submitted <= ok.started && ok.started <= ok.ended, 'its times in order');
  t.false(ok !== undefined && 'error' in ok);
  t.deepEqual(await c.job(okId), ok);
  t.deepEqual(await ksJson<JobHistoryEntry[]>(['jobs', '--url', main.url, '--queue', 'gpu']), []);
  t.deepEqual((await c.jobs({ node: 'h-main', search: 'BOOM' })).map((j) => j.id), [failedId]);

  const shown = await runKs(['job', failedId, '--url', main.url]);
  t.is(shown.code, 0, shown.stderr);
  t.regex(shown.stdout, /outcome\s+error/);
  t.regex(shown.stdout, /RangeError: boom 42\n\s+at failing/);
  const logs = await runKs(['logs', failedId, '--url', main.url]);
  t.is(logs.code, 0, logs.stderr);
  t.regex(logs.stdout, /about to fail with 42\n/);
});

test.serial('ks logs --follow prints a running job\'s output as it comes, and ends with the job', async (t) => {
  async function ticking(n: number): Promise<string> {
    for (let i = 0; i < n; i++) {
      console.log(`tick ${i}`);
      await new Promise((r) => setTimeout(r, 400));
    }
    return 'done';
  }
  c.bc(ticking, 6);
  const [id] = await c.execute();
  await eventually(() => c.job(id), (job) => job.outcome === 'running' && job.outputChars > 0);
  const follow = runKs(['logs', id, '--url', main.url, '--follow']);
  t.deepEqual(await c.br(), ['done']);
  const run = await follow;
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, [0, 1, 2, 3, 4, 5].map((i) => `tick ${i}\n`).join(''));
});

test.serial('ks cancel --all cancels queued and running jobs; the running one is in the history as cancelled', async (t) => {
  const sleep = async (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 3; i++) c.bc(sleep, 20_000);
  const ids = await c.execute();
  await eventually(() => c.job(ids[0]), (job) => job.outcome === 'running');
  const run = await runKs(['cancel', '--all', '--url', main.url]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /cancelled 3 job\(s\)/);
  const results = await Promise.allSettled([c.br()]);
  t.is(results[0].status, 'rejected');
  const entry = await eventually(() => c.job(ids[0]).catch(() => undefined), (job) => job !== undefined && 'ended' in job, 8000);
  t.is(entry?.outcome, 'cancelled');
});

test.serial('the (max+1)-th job pushes the oldest out of the history (--history-max 5)', async (t) => {
  const client = new Client(small.url, { output: 'silent' });
  t.teardown(() => client.close());
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    client.bc(echo, i);
    ids.push(...await client.execute());
    await client.br();
    await eventually(() => client.jobs(), (jobs) => jobs.some((j) => j.id === ids[i]));
  }
  const jobs = await client.jobs();
  t.deepEqual(jobs.map((j) => j.id), ids.slice(1).reverse(), 'the newest five, newest first');
  await t.throwsAsync(client.job(ids[0]), { message: /no job .* in the history/ });
  t.is((await client.job(ids[1])).outcome, 'ok');
});

test.serial('a short --history-ttl expires entries', async (t) => {
  const client = new Client(brief.url, { output: 'silent' });
  t.teardown(() => client.close());
  client.bc(echo, 1);
  const [first] = await client.execute();
  await client.br();
  await eventually(() => client.jobs(), (jobs) => jobs.length === 1);
  t.deepEqual((await client.jobs()).map((j) => j.id), [first]);
  await new Promise((r) => setTimeout(r, 1800));
  client.bc(echo, 2);
  const [second] = await client.execute();
  await client.br();
  const jobs = await eventually(() => client.jobs(), (list) => list.some((j) => j.id === second));
  t.deepEqual(jobs.map((j) => j.id), [second], 'the first entry expired');
});

test.serial('a node started with other history limits than its cluster\'s warns and uses the cluster\'s', async (t) => {
  const late = await startNode({ name: 'h-late', services, flags: ['--prefix', 'mx', '--history-max', '7'], env: { KS_LOG_LEVEL: 'warn' } });
  t.teardown(() => late.stop());
  await eventually(async () => late.output(), (out) => /history-max 7 differs from the cluster's 5/.test(out), 3000);
  t.regex(late.output(), /--history-max 7 differs from the cluster's 5/);
});

test.serial('the history\'s byte count is the bytes of its entries, compact and CBOR alike, also when an id is written again', async (t) => {
  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  const quiet = (x: number) => x * 2;
  const chatty = (x: number) => {
    console.log(`chatty ${x}`);
    return x;
  };
  for (let i = 0; i < 300; i++) c.bc(i % 3 === 0 ? chatty : quiet, i);
  c.bc(failing, 7);
  const ids = await c.execute();
  await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  await eventually(() => c.jobs({ limit: 10_000 }), (jobs) => ids.every((id) => jobs.some((j) => j.id === id)));
  const count = async () => {
    const lengths = await Promise.all((await redis.hkeys('{ks}:hist:data')).map((id) => redis.hstrlen('{ks}:hist:data', id)));
    return { counted: Number(await redis.get('{ks}:hist:bytes')), actual: lengths.reduce((a, b) => a + b, 0) };
  };
  const after = await count();
  t.true(after.actual > 0);
  t.is(after.counted, after.actual);
  const entries = await redis.hmgetBuffer('{ks}:hist:data', ...ids.slice(0, 3));
  t.is(entries[1]?.[0], 0x01, 'a quiet ok job is a compact entry');
  t.not(entries[0]?.[0], 0x01, 'a job with output is CBOR');

  // An id recorded again (as when a job runs again after its node was lost): its old entry's
  // bytes leave the count. Written through the store, as a node writes.
  const store = await Store.connect(services.redisUrl);
  t.teardown(() => store.close());
  const [rerun] = ids;
  const entry = Buffer.alloc(5000, 0x61);
  const packed = new PackedFields().add(rerun).add(String(Date.now())).add('0').add(entry).bytes();
  await store.history.record(Date.now(), HISTORY_DEFAULTS, packed);
  const rewritten = await count();
  t.is(rewritten.counted, rewritten.actual);
  t.is(rewritten.actual, after.actual - (entries[0]?.length ?? 0) + 5000);
});

test.serial('--history-max 0 keeps no history', async (t) => {
  const none = await startNode({ name: 'h-none', services, flags: ['--prefix', 'zero', '--history-max', '0'] });
  const client = new Client(none.url, { output: 'silent' });
  t.teardown(async () => {
    await client.close();
    await none.stop();
  });
  client.bc(failing, 1);
  const [id] = await client.execute();
  await t.throwsAsync(client.br(), { instanceOf: RemoteError });
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(await client.jobs(), []);
  await t.throwsAsync(client.job(id), { message: /no job .* in the history/ });
});
