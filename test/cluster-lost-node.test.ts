import test from 'ava';
import { Client, RemoteError } from '../src/index.js';
import { alive, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let nodes: KsNode[] = [];

test.before(async () => {
  services = await startServices();
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

const where = async (ms: number) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

test.serial('a node killed mid-task: its jobs are re-queued and run elsewhere, within the lease time', async (t) => {
  const a = await startNode({ name: 'alpha', services, workers: 2 });
  const b = await startNode({ name: 'beta', services, workers: 2 });
  nodes = [a, b];
  const c = new Client(a.url, { output: 'silent' });
  t.teardown(() => c.close());
  // Pinned, so that beta surely runs these two when it dies.
  c.bcWith({ queue: 'default|beta' }, where, 3000);
  c.bcWith({ queue: 'default|beta' }, where, 3000);
  c.bc(where, 10);
  await c.execute();
  await new Promise((r) => setTimeout(r, 800));
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  t.false(alive(b.pid));
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'NodeLost');
  t.regex(error!.message, /node beta was lost .* pinned to that node/);
  // Lease: 3 heartbeats (3 s) plus one reaper pass.
  t.true(Date.now() - killedAt < 6000, `outcome after ${Date.now() - killedAt} ms`);
  t.deepEqual((await c.hosts()).map((h) => h.name), ['alpha']);
});

test.serial('a job that may run anywhere is re-queued once and completes on a live node', async (t) => {
  const a = nodes[0];
  const b = await startNode({ name: 'gamma', services, workers: 2 });
  nodes.push(b);
  const c = new Client(a.url, { output: 'silent' });
  t.teardown(() => c.close());
  // Keep alpha busy so gamma takes the shared work.
  for (let i = 0; i < 2; i++) c.bcWith({ queue: 'default|alpha' }, where, 1500);
  for (let i = 0; i < 2; i++) c.bc(where, 2500);
  const ids = await c.execute();
  await new Promise((r) => setTimeout(r, 700));
  for (const id of ids.slice(2)) t.like(await c.status(id), { status: 'running', node: 'gamma', attempts: 0 });
  await b.stop('SIGKILL');
  const results = await c.br();
  t.deepEqual(results, ['alpha', 'alpha', 'alpha', 'alpha']);
  const status = await c.status(ids[2]).catch(() => null);
  t.is(status, null, 'delivered jobs are deleted from Redis');
});

test.serial('a call pinned to a node that is gone fails at execute() naming the queue', async (t) => {
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bcWith({ queue: 'default|beta' }, where, 1);
  const error = await t.throwsAsync(c.execute());
  t.regex(error!.message, /default\|beta.*not a live node/);
  c.bcWith({ queue: 'nosuchqueue' }, where, 1);
  const error2 = await t.throwsAsync(c.execute());
  t.regex(error2!.message, /no live node serves queue "nosuchqueue"/);
});
