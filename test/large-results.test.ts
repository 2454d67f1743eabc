import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client } from '../index.js';
import { Transport } from '../src/client/transport.js';
import { decode } from '../src/codec.js';
import type { JobEvent } from '../src/protocol.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let head: KsNode;
let worker: KsNode;
let workerDir: string;
const HOLD_MS = 200;

// `head` serves no queue its clients use, so their jobs run on `worker`, which keeps large
// results in memory for HOLD_MS and then on its disk.
test.before(async () => {
  services = await startServices();
  workerDir = mkdtempSync(join(tmpdir(), 'ks-large-'));
  head = await startNode({ name: 'head', services, flags: ['--queue', 'elsewhere'] });
  worker = await startNode({ name: 'worker', services, datadir: workerDir, flags: ['--result-hold', String(HOLD_MS)] });
});

test.after.always(async () => {
  await head?.stop();
  await worker?.stop();
  await services?.stop();
  rmSync(workerDir, { recursive: true, force: true });
});

const resultsDir = () => join(workerDir, '.ks', 'results');
const filesKept = () => (existsSync(resultsDir()) ? readdirSync(resultsDir()) : []);

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return check();
}

const bytesOf = async (n: number, seed: number) => {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 997) out[i] = (i + seed) % 251;
  return out;
};

function expected(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 997) out[i] = (i + seed) % 251;
  return out;
}

test.serial('large results computed on another node reach the client, in call order, and nothing is left on disk', async (t) => {
  const c = new Client(head.url, { output: 'silent' });
  t.teardown(() => c.close());
  const sizes = [1 << 20, 300 * 1024, 3 << 20, 10, 2 << 20];
  sizes.forEach((n, seed) => c.bc(bytesOf, n, seed));
  const results = (await c.br()) as Buffer[];
  t.is(results.length, sizes.length);
  sizes.forEach((n, seed) => t.true(results[seed].equals(expected(n, seed)), `result ${seed}`));
  t.true(await until(() => filesKept().length === 0), `left on the worker's disk: ${filesKept().join(', ')}`);
});

test.serial('a large result nobody collects goes to disk, survives a restart of its node, and is delivered then removed', async (t) => {
  const c = new Client(worker.url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bc(bytesOf, 1 << 20, 7);
  const [id] = await c.execute();
  t.true(await until(() => filesKept().includes(id)), 'written to disk after the hold time');
  await worker.stop();
  worker = await startNode({ name: 'worker', services, datadir: workerDir, flags: ['--result-hold', String(HOLD_MS)] });
  // A client coming back asks the restarted node for the batch by its ids.
  const transport = new Transport(worker.url);
  t.teardown(() => transport.close());
  const batch = id.slice(0, id.lastIndexOf('-'));
  const events: JobEvent[] = [];
  for await (const frame of transport.stream<JobEvent[]>('rpc/bulkstatus', { batch, ids: [id] })) events.push(...frame);
  const done = events.find((e) => e.type === 'done');
  t.truthy(done, JSON.stringify(events.map((e) => e.type)));
  t.true((decode(done!.type === 'done' ? done!.result : new Uint8Array()) as Buffer).equals(expected(1 << 20, 7)));
  t.true(await until(() => !filesKept().includes(id)), 'removed once delivered');
});
