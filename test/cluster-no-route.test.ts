/**
 * Nowhere to run (issue 4, item 4): a call whose queue no live node serves, or pinned to a
 * node that is gone, fails at execute() naming the queue; a queued call whose only eligible
 * nodes die (or leave) later fails with NoRoute once they are found gone. The client never
 * waits forever.
 */
import test from 'ava';
import { Client, dr, KsError, RemoteError } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let services: Services;
let head: KsNode;
const extra: KsNode[] = [];
let c: Client;

test.before(async () => {
  services = await startServices();
  head = await startNode({ name: 'head', services, workers: 1 });
  c = new Client(head.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([head, ...extra].map((n) => n?.stop()));
  await services?.stop();
});

const sleep = async (ms: number, _data?: unknown) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
};

async function startSolo(name: string, queue: string, flags: string[] = []): Promise<KsNode> {
  const node = await startNode({ name, services, workers: 1, flags: ['--queue', 'default', '--queue', queue, ...flags] });
  extra.push(node);
  return node;
}

/** The outcome of one batch: its results, or the remote error's name and message. */
async function outcome(client: Client): Promise<{ error?: string; message?: string; at: number }> {
  try {
    await client.br();
    return { at: Date.now() };
  } catch (error) {
    if (!(error instanceof RemoteError)) throw error;
    return { error: error.remoteName, message: error.message, at: Date.now() };
  }
}

test.serial('a call on a queue no live node serves fails at execute() naming the queue', async (t) => {
  c.bcWith({ queue: 'nosuchqueue' }, sleep, 1);
  const error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(error!.code, 'no_route');
  t.regex(error!.message, /no live node serves queue "nosuchqueue"/);
  t.is(await c.call(sleep, 1), 1, 'the node keeps serving');
});

test.serial('calls whose only node is SIGKILLed while they wait fail with NoRoute once the reaper finds it gone', async (t) => {
  const solo = await startSolo('solo1', 'solo');
  // One job holds solo1's only thread; the next waits behind it on the solo queue.
  const running = new Client(head.url, { output: 'silent' });
  const waiting = new Client(head.url, { output: 'silent' });
  const pinned = new Client(head.url, { output: 'silent' });
  t.teardown(() => Promise.all([running, waiting, pinned].map((x) => x.close())));
  running.bcWith({ queue: 'solo' }, sleep, 30_000);
  const [runningId] = await running.execute();
  await eventually(async () => (await running.status(runningId)).status === 'running', 10_000, 'the long job to start');
  waiting.bcWith({ queue: 'solo' }, sleep, 1);
  pinned.bcWith({ queue: 'default|solo1' }, sleep, 1);
  await Promise.all([waiting.execute(), pinned.execute()]);

  const killedAt = Date.now();
  await solo.stop('SIGKILL');
  // Until its heartbeat expires the node still counts as live: a call accepted now fails later too.
  const late = new Client(head.url, { output: 'silent' });
  t.teardown(() => late.close());
  late.bcWith({ queue: 'solo' }, sleep, 1);
  await late.execute();

  const outcomes = await Promise.all([running, waiting, pinned, late].map(outcome));
  for (const o of outcomes) {
    // Lease (3 heartbeats of 1 s) plus a reaper pass, with room for a loaded machine.
    t.true(o.at - killedAt < 8000, `outcome ${o.at - killedAt} ms after the kill`);
  }
  const [lost, queued, pinnedOutcome, accepted] = outcomes;
  t.is(lost.error, 'NodeLost');
  t.regex(lost.message!, /node solo1 was lost .* no live node serves its queue/);
  for (const o of [queued, accepted]) {
    t.is(o.error, 'NoRoute', o.message);
    t.regex(o.message!, /no live node serves queue "solo" any more \(node solo1 was lost\)/);
  }
  t.is(pinnedOutcome.error, 'NoRoute', pinnedOutcome.message);
  t.regex(pinnedOutcome.message!, /no live node serves queue "default\|solo1" any more/);
});

test.serial('a call pinned to a node that is gone fails at execute() naming the queue', async (t) => {
  c.bcWith({ queue: 'default|solo1' }, sleep, 1);
  const pinned = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.is(pinned!.code, 'no_route');
  t.regex(pinned!.message, /queue "default\|solo1" is pinned to node "solo1", which is not a live node/);
  c.bcWith({ queue: 'solo' }, sleep, 1);
  const named = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  t.regex(named!.message, /no live node serves queue "solo"/);
});

test.serial('a call routed by its data to nodes that all die, one after the other, fails with NoRoute', async (t) => {
  const [a, b] = await Promise.all([startSolo('gpu-a', 'gpu'), startSolo('gpu-b', 'gpu')]);
  const data = dr(Buffer.alloc(1000, 1));
  data.rpcUrl = a.url;
  await data.save();
  const busy = new Client(head.url, { output: 'silent' });
  const waiting = new Client(head.url, { output: 'silent' });
  t.teardown(() => Promise.all([busy, waiting].map((x) => x.close())));
  // Both gpu nodes busy; a call with data waits in both their host queues.
  busy.bcWith({ queue: 'gpu|gpu-a' }, sleep, 30_000);
  busy.bcWith({ queue: 'gpu|gpu-b' }, sleep, 30_000);
  const ids = await busy.execute();
  await eventually(async () => (await Promise.all(ids.map((id) => busy.status(id)))).every((s) => s.status === 'running'), 10_000, 'both to run');
  waiting.bcWith({ queue: 'gpu' }, sleep, 1, data);
  const [id] = await waiting.execute();
  t.deepEqual((await waiting.status(id)).queues, ['gpu|gpu-a', 'gpu|gpu-b']);
  await a.stop('SIGKILL');
  await eventually(async () => (await c.hosts()).every((h) => h.name !== 'gpu-a'), 10_000, 'gpu-a to be found gone');
  await new Promise((r) => setTimeout(r, 1500)); // a reaper pass for gpu-a alone
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  const [pinned, routed] = await Promise.all([busy, waiting].map(outcome));
  t.is(pinned.error, 'NodeLost', pinned.message);
  t.is(routed.error, 'NoRoute', routed.message);
  t.true(routed.at - killedAt < 8000, `outcome ${routed.at - killedAt} ms after the last kill`);
});

test.serial('a node that stops cleanly: the job it was running fails (nobody else serves its queue), a call pinned to it fails with NoRoute', async (t) => {
  // No drain: the stop hands the running job over at once (node-drain.test.ts covers the drain).
  const solo = await startSolo('solo2', 'solo', ['--drain-timeout', '0']);
  const running = new Client(head.url, { output: 'silent' });
  const waiting = new Client(head.url, { output: 'silent' });
  t.teardown(() => Promise.all([running, waiting].map((x) => x.close())));
  running.bcWith({ queue: 'solo' }, sleep, 30_000);
  const [runningId] = await running.execute();
  await eventually(async () => (await running.status(runningId)).status === 'running', 10_000, 'the long job to start');
  waiting.bcWith({ queue: 'default|solo2' }, sleep, 1);
  await waiting.execute();
  const stoppedAt = Date.now();
  await solo.stop('SIGTERM');
  const [interrupted, waited] = await Promise.all([running, waiting].map(outcome));
  for (const o of [interrupted, waited]) t.true(o.at - stoppedAt < 8000, `outcome ${o.at - stoppedAt} ms after the stop`);
  t.is(interrupted.error, 'NodeLost', interrupted.message);
  t.regex(interrupted.message!, /node solo2 stopped while running this job; .* no live node serves its queue/);
  t.is(waited.error, 'NoRoute', waited.message);
  t.regex(waited.message!, /no live node serves queue "default\|solo2" any more \(node solo2 is gone\)/);
});
