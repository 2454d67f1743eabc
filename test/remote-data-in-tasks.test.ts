import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { KsError, RemoteData, RemoteError, setupClient, dobj, dr, du, type Client } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { dataFiles, generated, scratchDir, tempFiles } from './helpers/data.js';

let services: Services;
let n1: KsNode;
let n2: KsNode;
let c: Client;
const scratch = scratchDir('in-tasks');

test.before(async () => {
  process.env.KS_DATA_CACHE = join(scratch.dir, 'cache');
  services = await startServices();
  [n1, n2] = await Promise.all(['n1', 'n2'].map((name) => startNode({ name, services, workers: 2 })));
  c = setupClient(n1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
  await services?.stop();
  scratch.cleanup();
});

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test.serial('a task on a node that lacks the data streams it from the holder, keeps the copy and becomes a holder', async (t) => {
  const content = await bytesOf(generated(6));
  await dr(content).save({ url: 'tasks/input.bin' });
  t.deepEqual((await c.dataInfo(['tasks/input.bin'])).data['tasks/input.bin'].holders, ['n1']);
  t.deepEqual(dataFiles(n2.datadir), []);

  const readOnN2 = async (d: RemoteData) => {
    const { taskContext } = await import('kitchensink');
    const { createHash } = await import('node:crypto');
    const bytes = await d.raw();
    return { node: taskContext().node.name, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), path: await d.localPath() };
  };
  const result = await c.callWith({ queue: 'default|n2' }, readOnN2, du('tasks/input.bin'));
  const info = (await c.dataInfo(['tasks/input.bin'])).data['tasks/input.bin'];
  t.is(result.node, 'n2');
  t.is(result.size, content.length);
  t.is(result.sha256, info.info!.sha256);
  t.is(result.path, join(realpathSync(n2.datadir), 'tasks/input.bin'), 'the task reads the node\'s own copy');
  t.deepEqual(info.holders, ['n1', 'n2']);
  t.true(readFileSync(join(n2.datadir, 'tasks/input.bin')).equals(content));
  t.deepEqual(tempFiles(n2.datadir), []);

  // The copy is n2's own now: it serves the task with n1's copy gone.
  t.deepEqual(await c.deleteData('tasks/input.bin', { host: 'n1' }), ['n1']);
  const again = await c.callWith({ queue: 'default|n2' }, readOnN2, du('tasks/input.bin'));
  t.is(again.sha256, result.sha256);
  t.deepEqual((await c.dataInfo(['tasks/input.bin'])).data['tasks/input.bin'].holders, ['n2']);
});

test.serial('tasks save() new data and return references; the client receives RemoteData and reads it', async (t) => {
  const save = async (i: number) => {
    const { dobj, taskContext } = await import('kitchensink');
    const data = await dobj({ i, squares: Array.from({ length: 1000 }, (_, k) => k * k) }).save({ prefix: 'tasks/out' });
    return { data, node: taskContext().node.name };
  };
  for (const i of [1, 2, 3, 4]) c.bcWith({ queue: i % 2 ? 'default|n1' : 'default|n2' }, save, i);
  const results = (await c.br()) as { data: RemoteData<{ i: number; squares: number[] }>; node: string }[];
  for (const [k, { data, node }] of results.entries()) {
    t.true(data instanceof RemoteData);
    t.regex(data.dataUrl, /^tasks\/out\/[0-9a-f-]{36}$/);
    t.is((await data.obj()).i, k + 1);
    t.deepEqual((await c.dataInfo([data.dataUrl])).data[data.dataUrl].holders, [node], 'stored on the node that ran the task');
  }
  t.is((await c.pathSearch('tasks/out/*')).length, 4);
});

test.serial('a task saves to a chosen url; saving it again is a conflict, raised inside the task', async (t) => {
  await c.call(async () => {
    const { dobj } = await import('kitchensink');
    await dobj('first').save({ url: 'tasks/chosen' });
  });
  const error = await t.throwsAsync(c.callWith({ queue: 'default|n2' }, async () => {
    const { dobj } = await import('kitchensink');
    await dobj('second').save({ url: 'tasks/chosen' });
  }), { instanceOf: RemoteError });
  t.is(error?.remoteName, 'KsError');
  t.regex(error?.message ?? '', /"tasks\/chosen" already exists .* write-once/);
  t.is(await du('tasks/chosen').obj(), 'first');
});

test.serial('an unsaved dobj cannot be passed to or returned from a task: a clear error, and its value is not shipped', async (t) => {
  c.bc((x: unknown) => x, dobj({ secret: 'never sent' }));
  await t.throwsAsync(c.execute(), { instanceOf: KsError, message: /has not been saved yet.*await data\.save\(\)/ });
  const error = await t.throwsAsync(c.call(async () => {
    const { dobj } = await import('kitchensink');
    return dobj({ secret: 'never sent' });
  }), { instanceOf: RemoteError });
  t.regex(error?.message ?? '', /has not been saved yet/);
});

test.serial('inside a task, a Client of its own node reaches the catalog through the DataHolder', async (t) => {
  await dobj(1).save({ url: 'tasks/catalog' });
  const holders = await c.callWith({ queue: 'default|n2' }, async (url: string) => {
    const { Client, taskContext } = await import('kitchensink');
    const own = new Client(taskContext().node.url);
    const report = await own.dataInfo([url]);
    return { holders: report.data[url].holders, hosts: Object.keys(report.hosts) };
  }, 'tasks/catalog');
  t.deepEqual(holders, { holders: ['n1'], hosts: ['n1', 'n2'] });
});
