/**
 * The quickstart: start a node (`npm start`), then `node dist/examples/quickstart.js`.
 * KS_URL picks another node (default http://127.0.0.1:6323/).
 */
import { RemoteError, client, setupClient } from '../index.js';

setupClient(process.env.KS_URL ?? 'http://127.0.0.1:6323/');
const c = client();

// Any function: it is shipped as source and runs on the cluster.
const square = (x: number) => x * x;
for (let i = 0; i < 10; i++) c.bc(square, i);
await c.execute();
console.log('squares:', await c.br());

// Output streams back while the task runs.
c.bc(async (name: string) => {
  for (let i = 1; i <= 3; i++) {
    console.log(`${name}: step ${i}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return 'done';
}, 'worker');
await c.execute();
console.log(await c.br());

// Where did it run?
const where = await c.call(async () => {
  const { taskContext } = await import('kitchensink');
  const { node, jobId, queue } = taskContext();
  return { node: node.name, jobId, queue };
});
console.log('ran at', where);

// Remote exceptions come back with their remote stack.
try {
  await c.call((n: number) => {
    if (n > 1) throw new RangeError(`n is ${n}`);
    return n;
  }, 5);
} catch (error) {
  if (error instanceof RemoteError) console.log(`remote ${error.remoteName}: ${error.message}`);
  else throw error;
}

// Values round-trip exactly: Map, Set, Date, BigInt, typed arrays.
console.log(await c.call((m: Map<string, bigint>) => new Map([...m].map(([k, v]) => [k, v * 2n])), new Map([['a', 21n]])));

await c.close();
