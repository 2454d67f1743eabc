import test from 'ava';
import { Client, KsError, RemoteError } from '../index.js';
import { startCluster, type SharedCluster } from './helpers/cluster.js';

let cluster: SharedCluster;
/** the client that executes (one process), and the one that collects (as another process would) */
let submitter: Client;
let collector: Client;

test.before(async () => {
  cluster = await startCluster([{ name: 'alpha', workers: 2 }, { name: 'beta', workers: 2 }]);
  const [alpha, beta] = cluster.nodes;
  submitter = new Client(alpha.url, { output: 'silent' });
  collector = new Client(beta.url, { output: 'silent' });
});

test.after.always(async () => {
  await submitter?.close();
  await collector?.close();
  await cluster?.stop();
});

const square = (x: number) => x * x;
const large = (n: number) => Buffer.alloc(n, 7);
const fails = (message: string) => {
  throw new TypeError(message);
};

test.serial('results(ids) collects, from another node and client, jobs a client executed but did not collect', async (t) => {
  for (let i = 0; i < 10; i++) submitter.bc(square, i);
  // Over 256 KiB, pinned to alpha: kept there, and fetched from there by beta.
  submitter.bcWith({ queue: 'default|alpha' }, large, 300 * 1024);
  const first = await submitter.execute();
  submitter.bc(square, 100);
  const second = await submitter.execute();
  // In the order asked, across two batches.
  const asked = [second[0], ...[...first].reverse()];
  const values = await collector.results(asked);
  t.is(values[0], 10_000);
  t.true(Buffer.isBuffer(values[1]) && (values[1] as Buffer).length === 300 * 1024);
  t.deepEqual(values.slice(2), [81, 64, 49, 36, 25, 16, 9, 4, 1, 0]);

  // Delivered once: asking again is not_found, from any node.
  for (const c of [collector, submitter]) {
    const again = await t.throwsAsync(c.results([first[3]]), { instanceOf: KsError });
    t.is(again!.code, 'not_found');
    t.regex(again!.message, new RegExp(`no job ${first[3]}: never submitted, its outcome was delivered already, or it expired`));
  }
});

test.serial('an unknown id is not_found; settledResults gives every outcome in order, failures included', async (t) => {
  submitter.bc(square, 3);
  submitter.bc(fails, 'no good');
  submitter.bc(square, 4);
  const ids = await submitter.execute();
  const unknown = '0000000000000000000-00000';
  const settled = await collector.settledResults([ids[2], unknown, ids[1], ids[0], 'not-an-id']);
  t.like(settled[0], { status: 'fulfilled', value: 16 });
  t.is(settled[1].status, 'rejected');
  t.like((settled[1] as PromiseRejectedResult).reason, { code: 'not_found' });
  const failure = (settled[2] as PromiseRejectedResult).reason as RemoteError;
  t.true(failure instanceof RemoteError);
  t.is(failure.remoteName, 'TypeError');
  t.is(failure.jobId, ids[1]);
  t.like(settled[3], { status: 'fulfilled', value: 9 });
  t.like((settled[4] as PromiseRejectedResult).reason, { code: 'not_found' });
});

test.serial('results() throws the first failure in the order asked, after reading every outcome', async (t) => {
  submitter.bc(fails, 'first');
  submitter.bc(square, 5);
  const ids = await submitter.execute();
  const error = await t.throwsAsync(collector.results([ids[1], ids[0]]), { instanceOf: RemoteError });
  t.is(error!.message, 'first');
  const nothing = await t.throwsAsync(collector.results([]).then(() => collector.results([ids[1]])), { instanceOf: KsError });
  t.is(nothing!.code, 'not_found');
  await t.throwsAsync(collector.results([ids[0], ids[0]]), { instanceOf: KsError, message: /asked for twice/ });
});
