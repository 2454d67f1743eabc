/**
 * architecture §5's enqueue rounds: in every host queue each call's first choice comes before any
 * call's second choice, also with `--locality-wait 0`, where all copies are due at once and
 * only the queue order decides. The audit's case: data d1 on n1, d2 on n2, calls
 * [d2, d1, d2, d1] while both nodes are busy; each call must run where its data is.
 */
import test from 'ava';
import { Client, dobj, type RemoteData } from '../index.js';
import { jobId, newBatchId } from '../src/ids.js';
import { Store } from '../src/store/store.js';
import { startNode, startServices, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let services: Services;

test.before(async () => {
  services = await startServices();
});

test.after.always(async () => {
  await services?.stop();
});

test.serial('with locality wait 0, each host queue gives every first choice before any second choice', async (t) => {
  const store = await Store.connect(services.redisUrl, { prefix: 'rounds' });
  t.teardown(() => store.close());
  const batch = newBatchId();
  const choices = [['q|n2', 'q|n1'], ['q|n1', 'q|n2'], ['q|n2', 'q|n1'], ['q|n1', 'q|n2']];
  const ids = choices.map((_, i) => jobId(batch, i));
  await store.enqueue(
    choices.map((queues, i) => ({ id: ids[i], fn: 'f', registered: true, args: new Uint8Array(0), opts: null, queues })),
    { ttlMs: 60_000, localityWaitMs: 0, head: 'n1' },
  );
  await new Promise((r) => setTimeout(r, 5)); // every copy is due by now
  t.deepEqual((await store.claim('n1', ['q|n1'], { max: 2, anyFunction: 2, prefetchable: [] })).jobs.map((j) => j.id), [ids[1], ids[3]]);
  t.deepEqual((await store.claim('n2', ['q|n2'], { max: 2, anyFunction: 2, prefetchable: [] })).jobs.map((j) => j.id), [ids[0], ids[2]]);
});

const where = async (ms: number, ..._data: RemoteData[]) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

test.serial('with --locality-wait 0, calls queued behind busy nodes run where their data is', async (t) => {
  const nodes = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 1, flags: ['--locality-wait', '0'] })));
  const [busy, c] = [new Client(nodes[0].url, { output: 'silent' }), new Client(nodes[0].url, { output: 'silent' })];
  t.teardown(async () => {
    await Promise.all([busy.close(), c.close()]);
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const [d1, d2] = await Promise.all(nodes.map(async (node) => {
    const d = dobj({ on: node.name });
    d.rpcUrl = node.url;
    return d.save();
  }));
  for (const node of nodes) busy.bcWith({ queue: `default|${node.name}` }, where, 1000);
  const busyIds = await busy.execute();
  await eventually(async () => (await Promise.all(busyIds.map((id) => busy.status(id)))).every((s) => s.status === 'running'), 10_000, 'both nodes to be busy');
  for (const d of [d2, d1, d2, d1]) c.bc(where, 300, d);
  t.deepEqual(await c.br(), ['n2', 'n1', 'n2', 'n1']);
  t.deepEqual(await busy.br(), ['n1', 'n2']);
});
