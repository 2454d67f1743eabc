import test from 'ava';
import { Client } from '../index.js';
import { startNode } from './helpers/cluster.js';

// Issue 12: a map of a million items on one node (2 threads, its own Redis and NATS). The
// client streams it as batches (client.ts SUBMIT_CALLS), and the node's heartbeats have a
// Redis connection of their own: before, the node took the whole submit in one burst, its
// own heartbeat waited behind it, and it declared itself lost. Not timed: the timeout only
// bounds a hung run on a loaded machine.
test('a 1,000,000-item map on one node completes, every result in item order', async (t) => {
  t.timeout(30 * 60_000);
  const node = await startNode({ name: 'million', workers: 2 });
  t.teardown(() => node.stop());
  const c = new Client(node.url, { output: 'silent', progress: false });
  t.teardown(() => c.close());
  const items = Array.from({ length: 1_000_000 }, (_, i) => i);
  let settledReports = 0;
  const watched = new Client(node.url, { output: 'silent', progress: false, onProgress: () => settledReports++ });
  t.teardown(() => watched.close());
  const results = await watched.map((x: number) => x * 2, items);
  t.is(results.length, items.length);
  let wrong = -1;
  for (let i = 0; i < items.length; i++) {
    if (results[i] !== i * 2) {
      wrong = i;
      break;
    }
  }
  t.is(wrong, -1, `result ${wrong} is ${results[wrong]}`);
  t.true(settledReports > 0);
  t.notRegex(node.output(), /was lost|no heartbeat/, 'the node never took itself for lost');
  // the node still answers, with nothing left queued
  t.deepEqual(await c.queueLengths(), {});
});
