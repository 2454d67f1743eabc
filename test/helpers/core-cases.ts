import type { TestFn } from 'ava';
import { Client, dobj, RemoteError, type RemoteData } from '../../index.js';
import type { KsNode } from './cluster.js';

/**
 * The core cases a Redis topology must pass (the single-node and cluster suites' basics): run
 * on two nodes sharing that Redis, the second holding the data. `nodes()` gives them once the
 * file's before hook started them; their names are `names`. The locality wait should be
 * generous (250 ms) so the routing case is no race on a loaded machine.
 */
export function coreCases(test: TestFn, label: string, nodes: () => [KsNode, KsNode], names: [string, string]): void {
  const client = (t: { teardown(fn: () => Promise<void> | void): void }, node = 0): Client => {
    const c = new Client(nodes()[node].url, { output: 'silent' });
    t.teardown(() => c.close());
    return c;
  };

  test.serial(`${label}: bc/execute/br run shipped functions and answer in call order`, async (t) => {
    const c = client(t);
    for (let i = 0; i < 20; i++) c.bc((x: number) => x * x, i);
    t.deepEqual(await c.br(), Array.from({ length: 20 }, (_, i) => i * i));
  });

  test.serial(`${label}: a failing task's error comes back as a RemoteError with its message`, async (t) => {
    const c = client(t);
    c.bc(() => {
      throw new Error('it failed on purpose');
    });
    await t.throwsAsync(c.br(), { instanceOf: RemoteError, message: /it failed on purpose/ });
  });

  test.serial(`${label}: remote data saved on one node is read on the other; a call with it runs where it is`, async (t) => {
    const c = client(t);
    const d = dobj({ rows: Array.from({ length: 1000 }, (_, i) => i) });
    d.rpcUrl = nodes()[1].url;
    await d.save();
    t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders, [names[1]]);
    const readIt = async (data: RemoteData) => {
      const { taskContext } = await import('kitchensink');
      const value = (await data.obj()) as { rows: number[] };
      return { node: taskContext().node.name, sum: value.rows.reduce((a, b) => a + b, 0) };
    };
    const onOther = await c.callWith({ queue: `default|${names[0]}` }, readIt, d);
    t.deepEqual(onOther, { node: names[0], sum: 499_500 }, 'read on the node that lacks it');
    // Routing: a single call whose data is on both nodes now goes... to a holder; with the data
    // only on the second node, to the second one.
    const only = dobj({ rows: [1, 2, 3] });
    only.rpcUrl = nodes()[1].url;
    await only.save();
    c.bc(readIt, only);
    t.deepEqual(await c.br(), [{ node: names[1], sum: 6 }], 'the call ran on the node holding its data');
  });
}
