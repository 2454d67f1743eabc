import test from 'ava';
import { Client, RemoteError } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';
import { everyThreadServes } from './helpers/threads.js';

let node: KsNode;
let c: Client;
const WORKERS = 2;

test.before(async () => {
  node = await startNode({ name: 'crash', workers: WORKERS });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

test.serial('process.exit() in a task fails its job with WorkerCrashed', async (t) => {
  c.bc(() => {
    process.exit(1);
  });
  const [id] = await c.execute();
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'WorkerCrashed');
  t.is(error!.jobId, id);
  t.regex(error!.message, /the worker thread running this job died/);
  await everyThreadServes(t, c, WORKERS);
});

test.serial('an uncaught error thrown in a timer fails its job with WorkerCrashed', async (t) => {
  const error = await t.throwsAsync(c.call(async () => {
    setTimeout(() => {
      throw new Error('thrown in a timer');
    }, 10);
    await new Promise((r) => setTimeout(r, 2000));
    return 'not reached';
  }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'WorkerCrashed');
  t.regex(error!.message, /thrown in a timer/);
  await everyThreadServes(t, c, WORKERS);
});

test.serial('an unhandled rejection in a task fails its job with WorkerCrashed', async (t) => {
  const error = await t.throwsAsync(c.call(async () => {
    void Promise.reject(new Error('nobody handles me'));
    await new Promise((r) => setTimeout(r, 2000));
    return 'not reached';
  }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'WorkerCrashed');
  t.regex(error!.message, /nobody handles me/);
  await everyThreadServes(t, c, WORKERS);
});

test.serial('a timer that throws after its task returned kills an idle thread; the node keeps serving', async (t) => {
  t.is(await c.call(() => {
    setTimeout(() => {
      throw new Error('late timer');
    }, 50);
    return 'returned first';
  }), 'returned first');
  await new Promise((r) => setTimeout(r, 300));
  await everyThreadServes(t, c, WORKERS);
});

test.serial('jobs sharing a task with a crashing one are run again, not failed', async (t) => {
  // After many short jobs the executor claims in bulk and groups jobs into a few piscina
  // tasks (a thread runs a task's jobs one after another); one of them exits its thread.
  await c.map((x: number) => x, Array.from({ length: 100 }, (_, i) => i));
  for (let i = 0; i < 40; i++) {
    if (i === 10) c.bc(() => process.exit(3));
    else c.bc((x: number) => x, i);
  }
  const ids = await c.execute();
  const states = async () => Promise.all(ids.map(async (id) => ((await c.status(id)) as { status: string }).status));
  let seen = await states();
  for (let i = 0; i < 100 && seen.some((s) => s === 'queued' || s === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen = await states();
  }
  t.deepEqual(seen, ids.map((_, i) => (i === 10 ? 'failed' : 'done')));
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'WorkerCrashed');
  t.is(error!.jobId, ids[10]);
  t.regex(error!.message, /died: worker exited with code: 3/);
  await everyThreadServes(t, c, WORKERS);
});
