/**
 * A node's logs: JSON lines on stderr when it is not a terminal (pretty lines with
 * KS_LOG_FORMAT=pretty, as on a terminal), a debug line per job claimed, finished and
 * re-queued, and fastify's 500s logged with their stack.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { Client, KsError } from '../index.js';
import { eventually } from './helpers/data.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

let services: Services;
let node: KsNode;
let c: Client;

test.before(async () => {
  services = await startServices();
  // --drain-timeout 0: a stop hands running jobs over at once (the drain is tested elsewhere).
  node = await startNode({ name: 'logs-a', services, env: { KS_LOG_LEVEL: 'debug' }, flags: ['--drain-timeout', '0'] });
  c = new Client(node.url, { output: 'silent' });
});

test.after.always(async () => {
  await c?.close();
  await node?.stop();
  await services?.stop();
});

interface LogLine {
  level: number;
  msg: string;
  job?: string;
  err?: { stack?: string; message?: string };
  [field: string]: unknown;
}

/** The node's log lines (its stderr; stdout's "listening on" line is not JSON). */
function logLines(of: KsNode): LogLine[] {
  return of.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
}

const DEBUG = 20;
const ERROR = 50;

test.serial('stderr that is not a terminal gets JSON lines; at debug, one per job claimed and finished', async (t) => {
  await eventually(() => logLines(node).some((l) => l.msg === 'node started' && l.level === 30), 5000, 'the start-up line, as JSON');
  c.bcWith({ queue: `default|${node.name}` }, (x: number) => x + 1, 1);
  const [id] = await c.execute();
  t.deepEqual(await c.br(), [2]);
  await eventually(() => logLines(node).some((l) => l.msg === 'job finished' && l.job === id), 5000, 'the finished line');
  const lines = logLines(node).filter((l) => l.job === id);
  t.deepEqual(lines.map((l) => [l.level, l.msg]), [[DEBUG, 'job claimed'], [DEBUG, 'job finished']]);
  t.is(lines[1].ok, true);
});

test.serial('a request that fails inside the node (a 5xx) is logged with its stack', async (t) => {
  const redis = new Redis(services.redisUrl);
  t.teardown(() => redis.disconnect());
  // Redis refuses every write: the submit fails on the node, not in the request.
  await redis.config('SET', 'maxmemory', '1');
  let error: KsError | undefined;
  try {
    c.bc((x: number) => x, 1);
    error = await t.throwsAsync(c.execute(), { instanceOf: KsError });
  } finally {
    await redis.config('SET', 'maxmemory', '0');
  }
  t.true(error!.status >= 500, `status ${error!.status}`);
  await eventually(() => logLines(node).some((l) => l.level === ERROR && l.msg === 'request failed'), 5000, 'the error line');
  const logged = logLines(node).find((l) => l.level === ERROR && l.msg === 'request failed')!;
  t.regex(logged.err?.stack ?? '', /OOM[\s\S]*\n\s+at /, 'the stack is logged');
  t.is(await c.call((x: number) => x * 2, 21), 42, 'the node serves again once Redis takes writes');
});

test.serial('a node that stops while running a job logs the job re-queued for another node', async (t) => {
  c.bcWith({ queue: 'default' }, async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return 'ran';
  }, 20_000); // long enough to be still running after a second node started on a loaded machine
  const [id] = await c.execute();
  await eventually(() => logLines(node).some((l) => l.msg === 'job claimed' && l.job === id), 5000, 'the claim');
  // Only now a second node: the job was claimed by the first.
  const other = await startNode({ name: 'logs-b', services, flags: ['--drain-timeout', '0'] });
  const viaOther = new Client(other.url, { output: 'silent' });
  t.teardown(async () => {
    await viaOther.close();
    await other.stop();
  });
  await node.stop();
  const requeued = logLines(node).find((l) => l.job === id && l.msg.startsWith('job re-queued'));
  t.truthy(requeued, `the stopping node logged the re-queue:\n${node.output().slice(-3000)}`);
  t.is(requeued?.level, DEBUG);
  // Its head (the stopped node) is gone: what happens to it next is read from Redis through the other node.
  await eventually(async () => (await viaOther.status(id)).node === other.name, 10_000, 'the other node to take it');
  t.is((await viaOther.status(id)).status, 'running');
});

test('KS_LOG_FORMAT=pretty (what a terminal gets) prints readable lines, not JSON', async (t) => {
  const pretty = await startNode({ name: 'logs-pretty', env: { KS_LOG_LEVEL: 'info', KS_LOG_FORMAT: 'pretty' } });
  t.teardown(() => pretty.stop());
  await eventually(() => /node started/.test(pretty.output()), 5000, 'the start-up line');
  const line = pretty.output().split('\n').find((l) => l.includes('node started'))!;
  t.false(line.trimStart().startsWith('{'), line);
  t.regex(line, /\d\d:\d\d:\d\d\.\d{3}\] INFO \(logs-pretty\): node started/);
});
