import test from 'ava';
import { Client, dr, RemoteError, type RemoteData } from '../index.js';
import { alive, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let services: Services;
let nodes: KsNode[] = [];

test.before(async () => {
  services = await startServices();
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

const where = async (ms: number, ..._data: RemoteData[]) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

/** Each job in its own batch (own client), so that every outcome is seen, with the time it arrived. */
async function outcomeAt(client: Client): Promise<{ value?: unknown; error?: RemoteError; at: number }> {
  try {
    const [value] = await client.br();
    return { value, at: Date.now() };
  } catch (error) {
    if (!(error instanceof RemoteError)) throw error;
    return { error, at: Date.now() };
  }
}

test.serial('a node killed mid-task: the client gets each job\'s outcome within the lease time', async (t) => {
  // alpha (the head) enqueues: its locality wait decides when a job's second choice may run.
  const a = await startNode({ name: 'alpha', services, workers: 2, flags: ['--locality-wait', '1000'] });
  const b = await startNode({ name: 'beta', services, workers: 2 });
  nodes = [a, b];
  const clients = [0, 1, 2].map(() => new Client(a.url, { output: 'silent' }));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  // Pinned, so that beta surely runs these two when it dies.
  clients[0].bcWith({ queue: 'default|beta' }, where, 3000);
  clients[1].bcWith({ queue: 'default|beta' }, where, 3000);
  clients[2].bcWith({ queue: 'default|alpha' }, where, 10);
  const ids = (await Promise.all(clients.map((c) => c.execute()))).flat();
  await eventually(async () => (await Promise.all(ids.slice(0, 2).map((id) => clients[0].status(id)))).every((s) => s.status === 'running'), 10_000, 'beta to run both');
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  t.false(alive(b.pid));
  const [first, second, third] = await Promise.all(clients.map(outcomeAt));
  t.is(third.value, 'alpha');
  for (const lost of [first, second]) {
    t.is(lost.error?.remoteName, 'NodeLost');
    t.regex(lost.error!.message, /node beta was lost .* pinned to that node/);
    // The lease is 3 heartbeats (3 s); then one reaper pass (1 s). Coarse, for a loaded machine.
    t.true(lost.at - killedAt < 6500, `outcome ${lost.at - killedAt} ms after the kill`);
  }
  t.deepEqual((await clients[0].hosts()).map((h) => h.name), ['alpha']);
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
  await eventually(async () => (await Promise.all(ids.slice(2).map((id) => c.status(id)))).every((s) => s.status === 'running' && s.node === 'gamma'), 10_000, 'gamma to run the shared jobs');
  for (const id of ids.slice(2)) t.like(await c.status(id), { status: 'running', node: 'gamma', attempts: 0 });
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  const results = await c.br();
  t.deepEqual(results, ['alpha', 'alpha', 'alpha', 'alpha']);
  // Lease and reaper pass (about 4 s) plus the 2.5 s job run again; coarse.
  t.true(Date.now() - killedAt < 10_000, `results ${Date.now() - killedAt} ms after the kill`);
  const status = await c.status(ids[2]).catch(() => null);
  t.is(status, null, 'delivered jobs are deleted from Redis');
});

test.serial('a node that stops cleanly hands the job it was running over: it runs again on a live node', async (t) => {
  const a = nodes[0];
  // No drain: the stop hands the running job over at once (node-drain.test.ts covers the drain).
  const leaver = await startNode({ name: 'delta', services, workers: 1, flags: ['--drain-timeout', '0'] });
  nodes.push(leaver);
  const c = new Client(a.url, { output: 'silent' });
  t.teardown(() => c.close());
  const data = dr(Buffer.alloc(1000, 1));
  data.rpcUrl = leaver.url;
  await data.save();
  // Routed by its data: delta first, alpha a second later (delta is idle, so it wins).
  c.bc(where, 2000, data);
  const [id] = await c.execute();
  await eventually(async () => (await c.status(id)).node === 'delta', 10_000, 'delta to run the job');
  t.deepEqual((await c.status(id)).queues, ['default|delta', 'default|alpha']);
  await leaver.stop('SIGTERM');
  t.deepEqual(await c.br(), ['alpha']);
});

test.serial('with --lost-job-retries 0, a job whose node is lost fails with NodeLost instead of running again', async (t) => {
  // The reaper that finds a node lost applies its own node's setting: only nodes with 0 stay.
  await nodes[0].stop();
  const head = await startNode({ name: 'epsilon', services, workers: 1, flags: ['--lost-job-retries', '0', '--queue', 'default', '--queue', 'solo'] });
  const runner = await startNode({ name: 'zeta', services, workers: 1, flags: ['--queue', 'default', '--queue', 'solo'] });
  nodes.push(head, runner);
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  // The head's thread is busy, so the shared-queue job runs on zeta.
  c.bcWith({ queue: 'solo|epsilon' }, where, 6000);
  c.bcWith({ queue: 'solo' }, where, 6000);
  const ids = await c.execute();
  await eventually(async () => (await c.status(ids[1])).node === 'zeta', 10_000, 'zeta to run the shared job');
  await runner.stop('SIGKILL');
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'NodeLost');
  t.is(error!.jobId, ids[1]);
  t.regex(error!.message, /node zeta was lost .* re-queued at most 0 time\(s\)/);
});

test.serial('by default a job is re-queued once: when its second node is lost too, it fails with NodeLost', async (t) => {
  // Three nodes with the default --lost-job-retries (1); epsilon's 0 must not be the one applied.
  await Promise.all(nodes.map((n) => n.stop()));
  const flags = ['--queue', 'default', '--queue', 'solo'];
  const [head, ...runners] = await Promise.all(['eta', 'theta', 'iota'].map((name) => startNode({ name, services, workers: 1, flags })));
  nodes.push(head, ...runners);
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  // The head's thread is busy, so the shared-queue job runs on theta or iota, then on the other.
  c.bcWith({ queue: 'solo|eta' }, where, 15_000);
  c.bcWith({ queue: 'solo' }, where, 5000);
  const ids = await c.execute();
  const runner = async (attempts: number) => {
    let status: Record<string, unknown> = {};
    await eventually(async () => {
      status = await c.status(ids[1]);
      return status.status === 'running' && status.attempts === attempts;
    }, 10_000, `the shared job to run (attempt ${attempts + 1})`);
    return runners.find((n) => n.name === status.node)!;
  };
  const first = await runner(0);
  await first.stop('SIGKILL');
  const second = await runner(1);
  t.not(second.name, first.name);
  const killedAt = Date.now();
  await second.stop('SIGKILL');
  const error = await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'NodeLost');
  t.is(error!.jobId, ids[1]);
  t.regex(error!.message, new RegExp(`node ${second.name} was lost .* re-queued at most 1 time\\(s\\)`));
  // The lease (3 s) and one reaper pass (1 s); coarse, for a loaded machine.
  t.true(Date.now() - killedAt < 6500, `the error came ${Date.now() - killedAt} ms after the kill`);
});
