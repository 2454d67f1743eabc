import { createHash } from 'node:crypto';
import { hostname, cpus } from 'node:os';
import test from 'ava';
import { Client, RemoteError } from '../index.js';
import { encode } from '../src/codec.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;
let c: Client;

test.before(async () => {
  node = await startNode({ name: 'imports', workers: 2 });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

test('shipped functions can import Node built-ins', async (t) => {
  const result = await c.call(async () => {
    const os = await import('node:os');
    const { createHash } = await import('crypto');
    const path = await import('node:path');
    return { host: os.hostname(), cpus: os.cpus().length, sha: createHash('sha1').update('ks').digest('hex'), joined: path.join('a', 'b') };
  });
  t.deepEqual(result, { host: hostname(), cpus: cpus().length, sha: createHash('sha1').update('ks').digest('hex'), joined: 'a/b' });
});

test('shipped functions can import packages installed on the node', async (t) => {
  const validated = await c.call(async (input: unknown) => {
    const { z } = await import('zod');
    return z.object({ name: z.string(), size: z.number().int() }).parse(input);
  }, { name: 'x', size: 3 });
  t.deepEqual(validated, { name: 'x', size: 3 });

  const invalid = await t.throwsAsync(c.call(async (input: unknown) => {
    const { z } = await import('zod');
    return z.object({ size: z.number() }).parse(input);
  }, { size: 'big' }), { instanceOf: RemoteError });
  t.is(invalid!.remoteName, 'ZodError');

  // cbor-x in the task encodes the way the client's codec decodes.
  const bytes = await c.call(async () => {
    const { encode } = await import('cbor-x');
    return encode({ from: 'task' });
  });
  t.true(bytes instanceof Uint8Array);
  t.deepEqual(Buffer.from(bytes as Uint8Array), Buffer.from(encode({ from: 'task' })));
});

test('importing a package the node does not have gives the module-not-found error', async (t) => {
  const error = await t.throwsAsync(c.call(async (specifier: string) => {
    await import(specifier);
  }, 'no-such-package-anywhere'), { instanceOf: RemoteError });
  t.regex(error!.message, /no-such-package-anywhere/);
  t.regex(error!.message, /Cannot find (module|package)/);
});

test('taskContext() from import("kitchensink") gives the job id, node, queue, attempt and signal', async (t) => {
  c.bc(async () => {
    const { taskContext } = await import('kitchensink');
    const context = taskContext();
    return {
      jobId: context.jobId,
      node: context.node,
      queue: context.queue,
      attempt: context.attempt,
      signalIsAbortSignal: context.signal instanceof AbortSignal,
      aborted: context.signal.aborted,
      keys: Object.keys(context).sort(),
    };
  });
  c.bcWith({ queue: 'default|imports' }, async () => {
    const { taskContext } = await import('kitchensink');
    return taskContext().queue;
  });
  const ids = await c.execute();
  const [context, pinnedQueue] = (await c.br()) as [Record<string, unknown>, string];
  t.deepEqual(context, {
    jobId: ids[0],
    node: { name: 'imports', url: node.url },
    queue: 'default',
    attempt: 1,
    signalIsAbortSignal: true,
    aborted: false,
    keys: ['attempt', 'jobId', 'node', 'queue', 'signal'],
  });
  t.is(pinnedQueue, 'default|imports');
});

test('taskContext() follows each job through awaits, even when jobs interleave on one thread', async (t) => {
  const probe = async (ms: number) => {
    const { taskContext } = await import('kitchensink');
    const before = taskContext().jobId;
    await new Promise((r) => setTimeout(r, ms));
    const after = taskContext().jobId;
    return before === after ? after : `changed from ${before} to ${after}`;
  };
  for (let i = 0; i < 10; i++) c.bc(probe, (i % 3) * 20);
  const ids = await c.execute();
  t.deepEqual(await c.br(), ids);
});

test('taskContext() outside a task says where it works', async (t) => {
  const { taskContext } = await import('kitchensink');
  t.throws(() => taskContext(), { message: 'taskContext() works only inside a task running on a kitchensink node' });
});
