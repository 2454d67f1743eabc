/**
 * `ks status` on two real nodes: live nodes, threads busy/free, running jobs, waiting jobs per
 * queue, and the data each node holds (urls and bytes, from the catalog) and has received
 * from peers, as a table and as JSON.
 */
import test from 'ava';
import { Client, dr, du, type NodeInfo, type RemoteData } from '../index.js';
import type { NodeStatusInfo } from '../src/client/client.js';
import { runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';

let services: Services;
let s1: KsNode;
let s2: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  [s1, s2] = await Promise.all([
    startNode({ name: 's1', services, workers: 2 }),
    startNode({ name: 's2', services, workers: 1, flags: ['--queue', 'default', '--queue', 'gpu'] }),
  ]);
  c = new Client(s1.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all([s1, s2].map((n) => n?.stop()));
  await services?.stop();
});

interface StatusJson {
  nodes: (NodeInfo & { status: NodeStatusInfo })[];
  queues: Record<string, number>;
}

async function statusJson(): Promise<StatusJson> {
  const run = await runKs(['status', '--url', s2.url, '--json']);
  if (run.code !== 0) throw new Error(`ks status failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as StatusJson;
}

async function save(bytes: number, node: KsNode): Promise<RemoteData> {
  const d = dr(Buffer.alloc(bytes, 7));
  d.rpcUrl = node.url;
  return d.save({ prefix: 'status' });
}

const sleep = async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
};

test.serial('ks status shows threads busy/free, running jobs, waiting jobs per queue and the data each node holds', async (t) => {
  await Promise.all([save(1000, s1), save(2000, s1), save(500, s2)]);
  // s2's only thread runs one job, two more wait in its host queue.
  for (let i = 0; i < 3; i++) c.bcWith({ queue: 'default|s2' }, sleep, 8000);
  const ids = await c.execute();
  t.teardown(async () => {
    await c.cancelAll();
    await c.br().catch(() => undefined);
  });
  await eventually(async () => (await c.status(ids[0])).status === 'running', 10_000, 'the first job to run');

  const json = await statusJson();
  t.deepEqual(json.nodes.map((n) => n.name), ['s1', 's2']);
  const [one, two] = json.nodes.map((n) => n.status);
  t.like(one.executor, { threads: 2, busy: 0, active: 0 });
  t.like(two.executor, { threads: 1, busy: 1, active: 1 });
  t.is(json.queues['default|s2'], 2);
  const { memory, ...oneData } = one.data;
  t.deepEqual(oneData, { urls: 2, bytes: 3000, received: { copies: 0, bytes: 0 }, relayed: { reads: 0, bytes: 0 } });
  t.like(two.data, { urls: 1, bytes: 500, received: { copies: 0, bytes: 0 }, relayed: { reads: 0, bytes: 0 } });
  t.like(memory, { used: 0, pinned: { urls: 0, size: 0 }, urls: [] }, 'the memory tier (docs/data.md) is reported too');
  t.deepEqual(json.nodes[1].queues, ['default', 'gpu']);

  const table = await runKs(['status', '--url', s1.url]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /2 live node\(s\)/);
  t.regex(table.stdout, /busy\/free .*running .*completed .*data held .*heartbeat/);
  t.regex(table.stdout, /s1 .* 0\/2 .* 0 .* 2 url\(s\), 2\.93 KiB/);
  t.regex(table.stdout, /s2 .*default, gpu .* 1\/0 .* 1 .* 1 url\(s\), 500 B/);
  t.regex(table.stdout, /default\|s2 .* 2/);
  const wide = await runKs(['status', '--node', s1.url, '--wide']);
  t.regex(wide.stdout, /received from peers/);
  t.regex(wide.stdout, /s1 .* 0\/2 .* 0 .* 2 url\(s\), 2\.93 KiB .* 0 copies, 0 B/);
  t.regex(wide.stdout, /s2 .*default, gpu .* 1\/0 .* 1 .* 1 url\(s\), 500 B .* 0 copies, 0 B/);
});

test.serial('a copy fetched by a task counts for the node that received it; deleting it counts too', async (t) => {
  const d = await save(4096, s1);
  const path = await c.callWith({ queue: 'default|s2' }, async (data: RemoteData) => data.localPath(), d);
  t.true(typeof path === 'string');
  let two = (await statusJson()).nodes[1].status;
  t.like(two.data, { urls: 2, bytes: 4596, received: { copies: 1, bytes: 4096 } });
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders, ['s1', 's2']);

  await c.deleteData(d.dataUrl, { host: 's2' });
  two = (await statusJson()).nodes[1].status;
  t.like(two.data, { urls: 1, bytes: 500, received: { copies: 1, bytes: 4096 } });
  await c.deleteData(d.dataUrl);
  t.like((await statusJson()).nodes[0].status.data, { urls: 2, bytes: 3000 });
});

test.serial('a read relayed through a node that keeps no copy shows in its status', async (t) => {
  const d = await save(3000, s1);
  const through = new Client(s2.url, { output: 'silent' });
  t.teardown(() => through.close());
  const relayedBefore = (await through.nodeStatus()).data.relayed;
  const remote = du(d.dataUrl);
  remote.rpcUrl = s2.url;
  t.is((await remote.raw()).length, 3000);
  t.deepEqual((await through.nodeStatus()).data.relayed, { reads: relayedBefore.reads + 1, bytes: relayedBefore.bytes + 3000 });
  const table = await runKs(['status', '--url', s1.url, '--wide']);
  t.regex(table.stdout, /s2 .*relayed 1 read\(s\), 2\.93 KiB/);
  await c.deleteData(d.dataUrl);
});
