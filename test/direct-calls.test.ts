import { createHash } from 'node:crypto';
import test from 'ava';
import { Redis } from 'ioredis';
import { Client, KsError, RemoteError, type OutputEvent } from '../index.js';
import { encode } from '../src/codec.js';
import { embeddedRedisUrl, startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;
let redis: Redis;

test.before(async () => {
  node = await startNode({ name: 'direct', workers: 2 });
  redis = new Redis(await embeddedRedisUrl(node));
});

test.after.always(async () => {
  redis?.disconnect();
  await node?.stop();
});

function recordingClient(t: { teardown(fn: () => unknown): void }): { c: Client; seen: OutputEvent[] } {
  const seen: OutputEvent[] = [];
  const c = new Client(node.url, { output: (event) => seen.push(event) });
  t.teardown(() => c.close());
  return { c, seen };
}

async function keys(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

const context = async (ms: number) => {
  const { taskContext } = await import('kitchensink');
  console.log(`job ${taskContext().jobId}`);
  await new Promise((r) => setTimeout(r, ms));
  const { jobId, queue, node } = taskContext();
  return { jobId, queue, node };
};

test.serial('callWith({ async: false }) runs on the head node with no queue and no Redis record', async (t) => {
  const { c, seen } = recordingClient(t);
  const running = c.callWith({ async: false }, context, 600);
  // While it runs: the job id it printed has no job record, and no queue holds anything.
  while (!seen.some((e) => e.text.startsWith('job '))) await new Promise((r) => setTimeout(r, 10));
  const printed = seen.find((e) => e.text.startsWith('job '))!;
  const status = await c.status(printed.jobId).catch((error: { status?: number }) => error.status);
  t.is(status, 404);
  t.deepEqual(await keys('{ks}:job:*'), []);
  t.deepEqual(await keys('{ks}:q:*'), []);
  const result = await running;
  t.deepEqual(result, { jobId: printed.jobId, queue: '', node: { name: 'direct', url: node.url } });
  t.deepEqual(await keys('{ks}:fn:*'), [], 'not even the source is stored');
});

test.serial('the same call through the queue does have a Redis record while it runs (the control)', async (t) => {
  const { c, seen } = recordingClient(t);
  const running = c.callWith({ async: true }, context, 600);
  while (!seen.some((e) => e.text.startsWith('job '))) await new Promise((r) => setTimeout(r, 10));
  const printed = seen.find((e) => e.text.startsWith('job '))!;
  t.like(await c.status(printed.jobId), { status: 'running', node: 'direct', queues: ['default'] });
  t.like(await running, { jobId: printed.jobId, queue: 'default' });
});

test.serial('output of a direct call arrives, in order, including what is printed just before returning', async (t) => {
  const { c, seen } = recordingClient(t);
  for (let round = 0; round < 10; round++) {
    seen.length = 0;
    const result = await c.callWith({ async: false }, (n: number) => {
      for (let i = 0; i < n; i++) console.log(`line ${i}`);
      console.error('to stderr');
      return n;
    }, 5);
    t.is(result, 5);
    const lines = seen.flatMap((e) => e.text.split('\n').filter(Boolean).map((line) => `${e.stream}: ${line}`));
    t.deepEqual(lines, ['stdout: line 0', 'stdout: line 1', 'stdout: line 2', 'stdout: line 3', 'stdout: line 4', 'stderr: to stderr'], `round ${round}`);
  }
});

test.serial('errors of a direct call come back as RemoteError', async (t) => {
  const { c } = recordingClient(t);
  const error = await t.throwsAsync(c.callWith({ async: false }, function directFailure() {
    throw new SyntaxError('direct failure');
  }), { instanceOf: RemoteError });
  t.is(error!.remoteName, 'SyntaxError');
  t.is(error!.message, 'direct failure');
  t.regex(error!.remoteStack!, /at directFailure \(ks-function:directFailure/);
  t.regex(error!.jobId, /^[0-9a-z]{19}-[0-9a-z]{5}$/);
  const closure = 3;
  const captured = await t.throwsAsync(c.callWith({ async: false }, () => closure), { instanceOf: KsError });
  t.is(captured!.code, 'compile_error');
  t.regex(captured!.message, /uses variables it does not declare: closure\. .*pass captured values as arguments/);
  const timedOut = await t.throwsAsync(c.callWith({ async: false, timeoutMs: 200 }, () => new Promise(() => undefined)), { instanceOf: RemoteError });
  t.is(timedOut!.remoteName, 'TimeoutError');
  t.is(await c.callWith({ async: false }, (x: number) => x * 3, 3), 9);
});

test.serial('intermediateResults: false silences a direct call', async (t) => {
  const { c, seen } = recordingClient(t);
  t.is(await c.callWith({ async: false, intermediateResults: false }, () => {
    console.log('hidden');
    return 'quiet';
  }), 'quiet');
  t.deepEqual(seen, []);
});

test.serial('a direct call whose key is not the sha256 of its source is refused, and does not poison the cache', async (t) => {
  const { c } = recordingClient(t);
  const real = (x: number) => x + 1;
  const sha = createHash('sha256').update(real.toString()).digest('hex');
  const body = encode({ fns: { [sha]: { name: 'impostor', source: '(x) => x - 1000' } }, calls: [{ fn: sha, args: encode([1]) }] });
  const response = await fetch(new URL('rpc/call/impostor?async=false', node.url), { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
  t.is(response.status, 400);
  t.like(await response.json(), { code: 'bad_request' });
  t.is(await c.callWith({ async: false }, real, 1), 2);
  t.is(await c.call(real, 1), 2);
});
