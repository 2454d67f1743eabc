import test from 'ava';
import { Client, KsError } from '../index.js';
import { Transport } from '../src/client/transport.js';
import type { JobEvent } from '../src/protocol.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;
let c: Client;
const TIMEOUT_MS = 1000;
/** A stopped node is noticed after the timeout; undici's coarse timers and a loaded machine add to it. */
const SLACK_MS = 3000;

test.before(async () => {
  node = await startNode({ name: 'sleepy', workers: 2 });
  c = new Client(node.url, { output: 'silent', requestTimeoutMs: TIMEOUT_MS });
});

test.after.always(async () => {
  resume();
  await c?.close();
  await node?.stop();
});

function pause(): void {
  process.kill(node.pid, 'SIGSTOP');
}

function resume(): void {
  try {
    process.kill(node.pid, 'SIGCONT');
  } catch {
    // gone already
  }
}

const sleep = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return `slept ${ms}`;
};

test.serial('a 5 s job is collected with requestTimeoutMs 1000: keep-alive frames fill the silence', async (t) => {
  c.bc(sleep, 5000);
  t.deepEqual(await c.br(), ['slept 5000']);
  t.is(await c.call(sleep, 2500), 'slept 2500');
  t.deepEqual(await c.map(sleep, [2000, 10]), ['slept 2000', 'slept 10']);
});

test.serial('keep-alive frames are empty arrays of events, sent at the interval the client asks for', async (t) => {
  c.bc(sleep, 1500);
  c.bc(sleep, 1600);
  const ids = await c.execute();
  const batch = ids[0].slice(0, ids[0].lastIndexOf('-'));
  // A timeout of 800 ms asks for a keep-alive after 200 ms of silence.
  const transport = new Transport(node.url, undefined, { requestTimeoutMs: 800 });
  t.teardown(() => transport.close());
  const frames: JobEvent[][] = [];
  for await (const frame of transport.stream<JobEvent[]>('rpc/bulkstatus', { batch, ids })) frames.push(frame);
  const keepAlives = frames.filter((f) => f.length === 0).length;
  t.true(keepAlives >= 4, `${keepAlives} keep-alive frames in about 1.5 s`);
  t.deepEqual(frames.flat().filter((e) => e.type === 'done').map((e) => e.id), ids);
});

test.serial('against a SIGSTOPped node, execute() and br() reject with code timeout within about requestTimeoutMs', async (t) => {
  t.teardown(resume);
  c.bc(sleep, 200);
  const [id] = await c.execute(); // a batch for br() to collect
  pause();

  c.bc(sleep, 1);
  let started = Date.now();
  const submit = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  let elapsed = Date.now() - started;
  t.is(submit!.code, 'timeout');
  t.true(submit!.message.includes(node.url) && submit!.message.includes('POST /rpc/bulkcall'), submit!.message);
  t.true(elapsed >= TIMEOUT_MS - 50 && elapsed < TIMEOUT_MS + SLACK_MS, `execute() failed after ${elapsed} ms`);

  started = Date.now();
  const collect = await t.throwsAsync(c.br(), { instanceOf: KsError });
  elapsed = Date.now() - started;
  t.is(collect!.code, 'timeout');
  t.regex(collect!.message, /did not answer POST \/rpc\/bulkstatus within 1000 ms/);
  t.true(elapsed >= TIMEOUT_MS - 50 && elapsed < TIMEOUT_MS + SLACK_MS, `br() failed after ${elapsed} ms`);

  resume();
  // The node runs again and answers the same client. The stream br() gave up on was never
  // written to (its close was seen first), so the job was not counted as delivered: it is
  // still there to collect.
  t.like(await c.ping(), { ok: true, node: 'sleepy' });
  t.deepEqual(await c.results([id]), ['slept 200']);
});

test.serial('a result stream whose node stops mid-stream fails on its silence, not on its length', async (t) => {
  t.teardown(resume);
  c.bc(sleep, 4000);
  await c.execute();
  const collecting = c.br();
  const outcome = t.throwsAsync(collecting, { instanceOf: KsError });
  // Longer than the timeout: the stream is alive on keep-alives until the node stops.
  await sleep(TIMEOUT_MS + 500);
  pause();
  const stoppedAt = Date.now();
  const error = await outcome;
  const elapsed = Date.now() - stoppedAt;
  t.is(error!.code, 'timeout');
  t.regex(error!.message, /went silent for more than 1000 ms in the answer to POST \/rpc\/bulkstatus \(waited for results or a keep-alive frame\)/);
  t.true(elapsed < TIMEOUT_MS + SLACK_MS, `br() failed ${elapsed} ms after the stop`);
});

test.serial('call() against a SIGSTOPped node rejects with code timeout', async (t) => {
  t.teardown(resume);
  pause();
  const started = Date.now();
  const error = await t.throwsAsync(c.call(sleep, 1), { instanceOf: KsError });
  t.is(error!.code, 'timeout');
  t.true(Date.now() - started < TIMEOUT_MS + SLACK_MS);
});

test.serial('requestTimeoutMs must be positive, 0 or Infinity', (t) => {
  t.throws(() => new Client(node.url, { requestTimeoutMs: -1 }), { instanceOf: KsError, message: /requestTimeoutMs/ });
  t.notThrows(() => new Client(node.url, { requestTimeoutMs: 0 }));
  t.notThrows(() => new Client(node.url, { requestTimeoutMs: Infinity }));
});
