import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, RemoteError } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

// One worker thread: a long job keeps the next one waiting in the queue.
let node: KsNode;
let c: Client;
let scratch: string;

test.before(async () => {
  node = await startNode({ name: 'cancel', workers: 1 });
  c = new Client(node.url, { output: 'silent' });
  scratch = mkdtempSync(join(tmpdir(), 'ks-cancel-'));
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOf = async (id: string) => ((await c.status(id)) as { status: string }).status;

/** Polls until `check` holds (the machine is shared: fixed sleeps would make these tests flaky). */
async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

/** Sleeps, then leaves a file behind: the side effect a cancelled job must not have. */
const sleepThenWrite = async (path: string, ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, 'ran');
  return path;
};

/** The executor holds no job and the node runs a call normally. */
async function idleAndServing(t: { is(a: unknown, b: unknown, m?: string): void }): Promise<void> {
  for (let i = 0; i < 50 && (await c.nodeStatus()).executor.active > 0; i++) await sleep(50);
  t.is((await c.nodeStatus()).executor.active, 0, 'no job is left held by the executor');
  t.is(await c.call((x: number) => x + 1, 1), 2);
}

test.serial('cancelling a queued job: it never runs, and br() reports CancelledError', async (t) => {
  const marker = join(scratch, 'queued');
  c.bc(sleep, 1500);
  c.bc(sleepThenWrite, marker, 0);
  const ids = await c.execute();
  t.true(await until(async () => (await statusOf(ids[0])) === 'running'));
  t.is(await statusOf(ids[1]), 'queued');
  await c.cancel(ids[1]);
  t.is(await statusOf(ids[1]), 'cancelled');
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'CancelledError');
  t.is(error!.jobId, ids[1]);
  t.regex(error!.message, /was cancelled/);
  await sleep(1000);
  t.false(existsSync(marker), 'the cancelled job never ran');
  await idleAndServing(t);
});

test.serial('cancelling a running job aborts its taskContext().signal', async (t) => {
  const marker = join(scratch, 'aborted');
  const printed: string[] = [];
  const watcher = new Client(node.url, { output: (e) => printed.push(e.text) });
  t.teardown(() => watcher.close());
  watcher.bc(async (path: string) => {
    const { taskContext } = await import('kitchensink');
    const { writeFileSync } = await import('node:fs');
    const { signal } = taskContext();
    await new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => {
        writeFileSync(path, String((signal.reason as Error).message));
        resolve();
      });
      console.log('listening');
    });
    return 'stopped politely';
  }, marker);
  const [id] = await watcher.execute();
  const results = watcher.br();
  // Cancel only once the task listens, so that the event (not signal.aborted) is what it sees.
  t.true(await until(() => printed.includes('listening\n')));
  await c.cancel(id);
  const error = await t.throwsAsync(results, { instanceOf: RemoteError });
  t.is(error!.remoteName, 'CancelledError');
  t.true(await until(() => existsSync(marker)), 'the abort listener ran');
  t.is(readFileSync(marker, 'utf8'), 'cancelled');
  await idleAndServing(t);
});

test.serial('a running job that ignores its signal has its thread stopped after the grace period', async (t) => {
  c.bc(() => {
    for (;;) {
      // CPU-bound and deaf to the signal
    }
  });
  const [id] = await c.execute();
  t.true(await until(async () => (await statusOf(id)) === 'running'));
  await sleep(100);
  const cancelledAt = Date.now();
  await c.cancel(id);
  await t.throwsAsync(c.br(), { instanceOf: RemoteError, message: /was cancelled/ });
  // The only thread was stuck in the loop: the node runs the next call only once it replaced it.
  t.is(await c.call(() => 'next'), 'next');
  t.true(Date.now() - cancelledAt < 5000, `next call done ${Date.now() - cancelledAt} ms after the cancel`);
  await idleAndServing(t);
});

test.serial('cancelAll() cancels every executed, uncollected call of the client', async (t) => {
  const markers = [0, 1, 2].map((i) => join(scratch, `all-${i}`));
  for (const marker of markers) c.bc(sleepThenWrite, marker, 800);
  const ids = await c.execute();
  t.true(await until(async () => (await statusOf(ids[0])) === 'running'));
  await c.cancelAll();
  for (const id of ids) t.is(await statusOf(id), 'cancelled');
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'CancelledError');
  await sleep(1200);
  for (const marker of markers) t.false(existsSync(marker), marker);
  await idleAndServing(t);
});

test.serial('bulkCancel() of finished, unknown and already cancelled jobs is harmless', async (t) => {
  c.bc((x: number) => x, 1);
  const ids = await c.execute();
  t.true(await until(async () => (await statusOf(ids[0])) === 'done'));
  await c.bulkCancel([...ids, '0000000000000000000-00000']);
  await c.bulkCancel([...ids]);
  // The job had finished: its result stands.
  t.deepEqual(await c.br(), [1]);
  await idleAndServing(t);
});

test.serial('cancelling a job that waits behind a running one in the same thread leaves the running one alone', async (t) => {
  // Short jobs first, so the executor claims several jobs at once and hands them to its
  // thread together.
  await c.map((x: number) => x, Array.from({ length: 200 }, (_, i) => i));
  const marker = join(scratch, 'neighbour');
  c.bc((x: number) => x, 0);
  c.bc(sleepThenWrite, marker, 800);
  c.bc(sleepThenWrite, `${marker}-victim`, 0);
  c.bc((x: number) => x, 3);
  const ids = await c.execute();
  t.true(await until(async () => (await statusOf(ids[1])) === 'running'));
  await c.cancel(ids[2]);
  t.true(await until(() => existsSync(marker)), 'the running neighbour finished');
  t.true(await until(async () => (await statusOf(ids[1])) === 'done'));
  await sleep(200);
  t.false(existsSync(`${marker}-victim`), 'the cancelled job never ran');
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.jobId, ids[2]);
  await idleAndServing(t);
});
