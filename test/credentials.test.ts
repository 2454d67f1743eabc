import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client } from '../index.js';
import { Bus } from '../src/bus.js';
import { Redis } from 'ioredis';
import { runKs, startNode, type KsNode } from './helpers/cluster.js';

/**
 * The trust boundary (docs/security.md): the embedded Redis and NATS refuse whoever lacks
 * their generated credentials, and no token or password shows in any process's command line,
 * a task's environment, the logs, `ks status --json` or the dashboard's API.
 */

const TOKEN = `tok-${Date.now().toString(36)}-c0ffee`;

interface Cluster {
  head: KsNode;
  joined: KsNode;
  secrets: string[];
  dir: string;
}

let cluster: Cluster | undefined;

test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-credentials-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const head = await startNode({ name: 'cred-head', workers: 1, flags: ['--token-file', tokenFile] });
  // Given on its command line on purpose: the node hides it from ps once parsed.
  const joined = await startNode({ name: 'cred-joined', workers: 1, flags: ['--join', head.url, '--token', TOKEN] }).catch(async (error: unknown) => {
    await head.stop();
    throw error;
  });
  const kept = JSON.parse(readFileSync(join(head.datadir, '.ks', 'credentials.json'), 'utf8')) as { redisPassword: string; natsPassword: string };
  cluster = { head, joined, secrets: [TOKEN, kept.redisPassword, kept.natsPassword], dir };
});

test.after.always(async () => {
  if (!cluster) return;
  await cluster.joined.stop();
  await cluster.head.stop();
  rmSync(cluster.dir, { recursive: true, force: true });
});

async function serviceUrls(node: KsNode): Promise<{ redis: string; nats: string }> {
  const status = (await (await fetch(new URL('rpc/node', node.url), { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { services: { name: string; url: string }[] };
  const url = (name: string) => status.services.find((s) => s.name === name)!.url;
  return { redis: url('redis-server'), nats: url('nats-server') };
}

test.serial('without the Redis password or the NATS credentials a local process cannot enqueue, while the node works', async (t) => {
  const { head } = cluster!;
  const { redis, nats } = await serviceUrls(head);
  t.regex(redis, /^redis:\/\/127\.0\.0\.1:\d+$/, 'status shows the address, not the password');

  // What the store's enqueue writes first (a job hash, then its queue entry), as a hostile local process would.
  const intruder = new Redis(redis, { enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  intruder.on('error', () => undefined);
  t.teardown(() => intruder.disconnect());
  const refused = await t.throwsAsync(intruder.hset('{ks}:job:b-intruder-0', 'fn', 'x'));
  t.regex(refused?.message ?? '', /^NOAUTH Authentication required/);
  t.regex((await t.throwsAsync(intruder.zadd('ks:queue:default', 0, 'b-intruder-0')))?.message ?? '', /^NOAUTH/);
  // With the password (what the node uses), the same connection would work: the refusal is the password's doing.
  t.is(await intruder.auth(JSON.parse(readFileSync(join(head.datadir, '.ks', 'credentials.json'), 'utf8')).redisPassword as string), 'OK');
  t.is(await intruder.ping(), 'PONG');

  const bus = await t.throwsAsync(Bus.connect(nats, { name: 'intruder' }));
  t.regex(bus?.message ?? '', /Authorization Violation/i);

  // The files that hold them are the node user's alone.
  for (const file of ['credentials.json', 'redis/redis.conf', 'nats/nats.conf']) {
    t.is(statSync(join(head.datadir, '.ks', file)).mode & 0o777, 0o600, file);
  }

  const c = new Client(head.url, { output: 'silent', token: TOKEN });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x * 2, 21), 42);
  t.deepEqual((await c.hosts()).map((h) => h.name).sort(), ['cred-head', 'cred-joined']);
});

test.serial('no token or password in any process\'s command line, a task\'s environment or /proc/self/cmdline, the logs, ks status --json or the dashboard', async (t) => {
  const { head, joined, secrets } = cluster!;
  const leaks = (text: string) => secrets.filter((secret) => text.includes(secret));

  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  t.true(ps.includes('cred-joined'), 'the joined node is in the listing');
  t.deepEqual(leaks(ps), [], 'ps -eo args');

  for (const node of [head, joined]) {
    const c = new Client(node.url, { output: 'silent', token: TOKEN });
    t.teardown(() => c.close());
    const seen = await c.call(async () => {
      const { readFileSync: read } = await import('node:fs');
      return { env: JSON.stringify(process.env), cmdline: read('/proc/self/cmdline', 'utf8').split('\0').join(' ') };
    });
    t.false('KS_TOKEN' in JSON.parse(seen.env), `${node.name}: no KS_TOKEN in a task's environment`);
    t.deepEqual(leaks(seen.env), [], `${node.name}: a task's process.env`);
    t.deepEqual(leaks(seen.cmdline), [], `${node.name}: a task's /proc/self/cmdline`);
    t.regex(seen.cmdline, /ks\.js start/);

    for (const route of ['rpc/node', 'ui/api/node', 'ui/api/snapshot']) {
      const body = await (await fetch(new URL(route, node.url), { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      t.deepEqual(leaks(body), [], `${node.name}: GET /${route}`);
    }
    t.deepEqual(leaks(node.output()), [], `${node.name}: its output`);
  }

  const status = await runKs(['status', '--node', head.url, '--json'], { env: { KS_TOKEN: TOKEN } });
  t.is(status.code, 0, status.stderr);
  t.true(status.stdout.includes('cred-joined'));
  t.deepEqual(leaks(status.stdout), [], 'ks status --json');
});
