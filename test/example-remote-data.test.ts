import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { Client } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

const run = promisify(execFile);
const EXAMPLE = new URL('../examples/remote-data.js', import.meta.url).pathname;

let node: KsNode;

test.before(async () => {
  node = await startNode({ workers: 1 });
});

test.after.always(async () => {
  await node?.stop();
});

test('the README\'s remote data example runs and cleans up after itself', async (t) => {
  const { stdout } = await run(process.execPath, [EXAMPLE], { env: { ...process.env, KS_URL: node.url } });
  t.regex(stdout, /saved at examples\/[0-9a-f-]{36}/);
  t.regex(stdout, /sum of y: 332833500/);
  t.regex(stdout, /result at examples\/results\/[0-9a-f-]{36} starts with \[ 0, 1, 4, 9, 16 \]/);
  t.regex(stdout, /a,b\n1,2\n3,4/);
  t.regex(stdout, /holders of the table: \[ 'node-\d+' \]/);
  const c = new Client(node.url);
  t.teardown(() => c.close());
  t.deepEqual(await c.pathSearch('**'), []);
});
