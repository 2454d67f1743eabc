/**
 * The seed's test_data_routing and test_data_routing_multiple_sources, on three real nodes
 * with real saved data. Each node has one worker thread and each task outlasts the locality
 * wait several times over, so where a call runs follows from delay scheduling alone: each
 * scenario runs five times and must land the same way every time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Client, dobj, dp, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';

/**
 * The node that holds the data must claim within one locality wait: 250 ms (the default is
 * 50) leaves room for a heavily loaded machine. Tasks last long enough that the other nodes claim
 * their calls (after one and two waits) before the holder is free again.
 */
const LOCALITY_WAIT_MS = 250;
const TASK_MS = 1000;
const ROUNDS = 5;

let services: Services;
let nodes: KsNode[] = [];
let c: Client;
const scratch = scratchDir('routing');

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['node1', 'node2', 'node3'].map((name) =>
    startNode({ name, services, workers: 1, flags: ['--locality-wait', String(LOCALITY_WAIT_MS)] })));
  c = new Client(nodes[0].url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
  scratch.cleanup();
});

/** Where the task ran; it holds its thread long enough that placement is never a race. */
const routingFunc = async (ms: number, ..._data: RemoteData[]) => {
  const { taskContext } = await import('kitchensink');
  await new Promise((r) => setTimeout(r, ms));
  return taskContext().node.name;
};

test.serial('test_data_routing: data saved on node 2; the first call runs there and the three spread over all three nodes', async (t) => {
  const d = dobj({ values: new Float64Array(50_000) });
  d.rpcUrl = nodes[1].url;
  await d.save();
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders, ['node2']);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < 3; i++) c.bc(routingFunc, TASK_MS, d);
    const results = (await c.br()) as string[];
    t.is(results[0], 'node2', `round ${round}: ${results.join(', ')}`);
    t.deepEqual([...results].sort(), ['node1', 'node2', 'node3'], `round ${round}: ${results.join(', ')}`);
  }
  // The tasks never read the data, so no copy was made: every round saw the same catalog.
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders, ['node2']);
});

test.serial('test_data_routing_multiple_sources: 1 MB on node 1 and 100 kB on node 2; the calls land on node 1, node 2, node 3 in that order', async (t) => {
  const big = join(scratch.dir, 'big.bin');
  const small = join(scratch.dir, 'small.bin');
  writeFileSync(big, Buffer.alloc(1_000_000, 1));
  writeFileSync(small, Buffer.alloc(100_000, 2));
  const d1 = dp(big);
  d1.rpcUrl = nodes[0].url;
  await d1.save();
  const d2 = dp(small);
  d2.rpcUrl = nodes[1].url;
  await d2.save();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < 3; i++) c.bc(routingFunc, TASK_MS, d1, d2);
    t.deepEqual(await c.br(), ['node1', 'node2', 'node3'], `round ${round}`);
  }
});

test.serial('a url the catalog has no record of does not steer the call: it goes to the shared queue', async (t) => {
  c.bc(routingFunc, 10, du('no/such/url'));
  const [id] = await c.execute();
  t.deepEqual((await c.status(id)).queues, ['default']);
  t.true(['node1', 'node2', 'node3'].includes((await c.br())[0] as string));
});
