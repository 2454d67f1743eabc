import test from 'ava';
import { Client, RemoteError } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { everyThreadServes, threadAfter } from './helpers/threads.js';

let node: KsNode;
let c: Client;

test.before(async () => {
  node = await startNode({ name: 'timeout', workers: 2 });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

test.serial('a CPU-bound infinite loop past its timeoutMs fails with TimeoutError and its thread is stopped', async (t) => {
  const started = Date.now();
  c.bcWith({ timeoutMs: 300 }, () => {
    for (;;) {
      // never yields
    }
  });
  const [id] = await c.execute();
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  const elapsed = Date.now() - started;
  t.is(error!.remoteName, 'TimeoutError');
  t.is(error!.jobId, id);
  t.regex(error!.message, /timed out after 300 ms; its worker thread was stopped/);
  t.true(elapsed >= 300 && elapsed < 3000, `failed after ${elapsed} ms`);
  await everyThreadServes(t, c, 2);
});

test.serial('an async task that never settles times out too', async (t) => {
  const error = await t.throwsAsync(c.callWith({ timeoutMs: 200 }, () => new Promise(() => undefined)), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'TimeoutError');
  await everyThreadServes(t, c, 2);
});

test.serial('a job that finishes within its timeoutMs succeeds, and its siblings are unaffected', async (t) => {
  c.bcWith({ timeoutMs: 2000 }, threadAfter, 100);
  c.bc(threadAfter, 100);
  c.bcWith({ timeoutMs: 5000 }, (x: string) => x, 'quick');
  const [first, second, third] = await c.br();
  t.is(typeof first, 'number');
  t.is(typeof second, 'number');
  t.is(third, 'quick');
});

test.serial('several timeouts at once: every thread is replaced and the node keeps serving', async (t) => {
  for (let i = 0; i < 4; i++) {
    c.bcWith({ timeoutMs: 200 }, () => {
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        // busy
      }
    });
  }
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'TimeoutError');
  await everyThreadServes(t, c, 2);
});

test.serial('timeoutMs is validated', async (t) => {
  c.bcWith({ timeoutMs: -5 }, (x: number) => x, 1);
  const error = await t.throwsAsync(c.execute());
  t.regex(error!.message, /invalid request body: calls\.0\.options\.timeoutMs/);
  t.is((error as { code?: string }).code, 'bad_request');
});
