/**
 * The package's public face: shipped functions' arguments are type-checked at the call site
 * (this file is compiled by `npm run build`: an `@ts-expect-error` that no longer finds an
 * error fails the build), and the errors kitchensink itself raises are RemoteError subclasses
 * that `instanceof` tells apart.
 */
import test from 'ava';
import {
  CancelledError,
  Client,
  JobLost,
  NodeLost,
  NoRoute,
  RemoteError,
  TimeoutError,
  WorkerCrashed,
} from '../index.js';
import { remoteErrorFor } from '../src/errors.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;
let c: Client;

test.before(async () => {
  node = await startNode({ name: 'public-api', workers: 1 });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
});

const square = (x: number) => x * x;
const greet = async (name: string, times: number) => `${name}!`.repeat(times);

/** Never called: its body only has to compile (or, on the marked lines, fail to). */
function wrongArgumentsDoNotCompile(client: Client): void {
  // @ts-expect-error a string where the function takes a number
  client.bc(square, 'three');
  // @ts-expect-error a missing argument
  client.bc(greet, 'ks');
  // @ts-expect-error one argument too many
  void client.call(square, 1, 2);
  // @ts-expect-error the options come first with bcWith
  client.bcWith({ timeoutMs: 100 }, greet, 2, 'ks');
  // @ts-expect-error map's items are the function's first argument
  void client.map(square, ['a', 'b']);
  // A registered function's name takes any arguments: the node knows its signature, the compiler does not.
  client.bc('parse', 'a=1', { any: 'thing' });
}

test.serial('well-typed calls compile, run and give typed results', async (t) => {
  t.is(typeof wrongArgumentsDoNotCompile, 'function');
  c.bc(square, 3);
  c.bcWith({ timeoutMs: 5000 }, greet, 'ks', 2);
  t.deepEqual(await c.br(), [9, 'ks!ks!']);
  const one: number = await c.call(square, 4);
  t.is(one, 16);
  const text: string = await c.callWith({ async: false }, greet, 'a', 3);
  t.is(text, 'a!a!a!');
  const squares: number[] = await c.map(square, [1, 2, 3], { chunkSize: 2 });
  t.deepEqual(squares, [1, 4, 9]);
});

test.serial('a timeout is a TimeoutError, a RemoteError', async (t) => {
  const error = await t.throwsAsync(c.callWith({ timeoutMs: 200 }, () => new Promise(() => undefined)), { instanceOf: TimeoutError });
  t.true(error instanceof RemoteError);
  t.is(error!.remoteName, 'TimeoutError');
  t.false(error instanceof CancelledError);
});

test.serial('a cancelled job is a CancelledError', async (t) => {
  c.bc(async (ms: number) => new Promise((r) => setTimeout(r, ms)), 30_000);
  const [id] = await c.execute();
  await c.cancel(id);
  const error = await t.throwsAsync(c.br(), { instanceOf: CancelledError });
  t.true(error instanceof RemoteError);
  t.is(error!.jobId, id);
});

test.serial('a dead worker thread is WorkerCrashed', async (t) => {
  const error = await t.throwsAsync(c.call(() => process.exit(3)), { instanceOf: WorkerCrashed });
  t.true(error instanceof RemoteError);
  t.is(await c.call(square, 5), 25, 'the node keeps serving');
});

test('remoteErrorFor builds the subclass named by the remote error, else a plain RemoteError', (t) => {
  const classes = { CancelledError, TimeoutError, WorkerCrashed, NodeLost, NoRoute, JobLost };
  for (const [name, ErrorClass] of Object.entries(classes)) {
    const error = remoteErrorFor('job-1', { name, message: `a ${name}` });
    t.true(error instanceof ErrorClass, name);
    t.true(error instanceof RemoteError, name);
    t.is(error.remoteName, name);
    t.is(error.message, `a ${name}`);
    t.is(error.name, 'RemoteError', 'the name stays RemoteError, as before the subclasses');
  }
  const userError = remoteErrorFor('job-2', { name: 'RangeError', message: 'n is 5' });
  t.is(userError.constructor, RemoteError);
  t.is(remoteErrorFor('job-3', { name: 'toString', message: 'not a class of ours' }).constructor, RemoteError);
});
