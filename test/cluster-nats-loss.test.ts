/**
 * architecture §2: Redis is the source of truth; NATS only notifies. With the nats-server stopped
 * (SIGSTOP: nothing is delivered, nothing refused), a call the head sends to another node
 * still runs and its result still reaches the client: the executor polls Redis for work
 * (~1 s) and the head's tracker reads the outcome from Redis (~1 s) instead of waiting for
 * the wake-up and the finished event.
 */
import test from 'ava';
import { Client } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let nodes: KsNode[] = [];

test.before(async () => {
  services = await startServices();
  nodes = await Promise.all(['na', 'nb'].map((name) => startNode({ name, services, workers: 1 })));
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await services?.stop();
});

const where = async () => {
  const { taskContext } = await import('kitchensink');
  return taskContext().node.name;
};

test('a stopped nats-server only delays work: a call pinned to the other node still returns', async (t) => {
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());
  c.bcWith({ queue: 'default|nb' }, where);
  t.deepEqual(await c.br(), ['nb'], 'with NATS running');
  process.kill(services.natsPid, 'SIGSTOP');
  try {
    const start = Date.now();
    c.bcWith({ queue: 'default|nb' }, where);
    t.deepEqual(await c.br(), ['nb'], 'with NATS stopped');
    const ms = Date.now() - start;
    t.log(`result after ${ms} ms with NATS stopped`);
    t.true(ms < 5000, `the result came after ${ms} ms`);
  } finally {
    process.kill(services.natsPid, 'SIGCONT');
  }
});
