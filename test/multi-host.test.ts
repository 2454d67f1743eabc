/**
 * A real multi-host cluster without leaving the machine (docs/deploy.md): network namespaces
 * of the test's own, one per "machine", on a bridge; Redis (rediss://, a password) and NATS
 * (TLS, a user and password) in one, a node in each of three others, with a token and HTTPS
 * (a CA and certificates made here with openssl, SANs for the addresses assigned here). The
 * test process reaches them through one more veth on the bridge. It sends traffic only to
 * addresses it assigned, and removes everything it made, also when it fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, dobj, setupClient, type RemoteData } from '../index.js';
import { encode } from '../src/codec.js';
import type { BulkCallRequest } from '../src/protocol.js';
import { alive, startNode, type KsNode } from './helpers/cluster.js';
import { makePki } from './helpers/certs.js';
import { eventually } from './helpers/data.js';
import { bulkcall, collect, type Auth } from './helpers/raw-submit.js';

const PREFIX = 'ksmh-';
const ID = process.pid;
const NS = (role: string) => `${PREFIX}${ID}-${role}`;
/** A /24 of 10.213.0.0/16 per test process. */
const SUBNET = `10.213.${20 + (ID % 200)}`;
const ROLES = { svc: 10, n1: 11, n2: 12, n3: 13 } as const;
type Role = keyof typeof ROLES;
const ip = (role: Role) => `${SUBNET}.${ROLES[role]}`;
/** veth names (at most 15 characters): the end on the bridge and the end in the namespace. */
const veth = (role: string, end: 'a' | 'b') => `kv${ID % 100000}${role}${end}`;
const TOKEN = `mh-${ID}-token`;
const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

function run(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // already gone
  }
}

/** Namespaces of earlier runs of this test whose process is gone: their processes are killed, they are removed. */
function removeStale(): void {
  const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const name of listed.split('\n').map((line) => line.split(' ')[0]).filter((n) => n.startsWith(PREFIX))) {
    const owner = Number(name.slice(PREFIX.length).split('-')[0]);
    if (owner !== ID && alive(owner)) continue;
    removeNamespace(name);
  }
}

function removeNamespace(name: string): void {
  quietly(() => {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    for (const pid of pids) quietly(() => process.kill(pid, 'SIGKILL'));
  });
  quietly(() => run('netns', 'del', name));
}

function buildNetwork(): void {
  run('netns', 'add', NS('br'));
  run('-n', NS('br'), 'link', 'add', 'br0', 'type', 'bridge');
  run('-n', NS('br'), 'link', 'set', 'br0', 'up');
  for (const role of Object.keys(ROLES) as Role[]) {
    run('netns', 'add', NS(role));
    run('link', 'add', veth(role, 'a'), 'type', 'veth', 'peer', 'name', veth(role, 'b'));
    run('link', 'set', veth(role, 'a'), 'netns', NS('br'));
    run('link', 'set', veth(role, 'b'), 'netns', NS(role));
    run('-n', NS('br'), 'link', 'set', veth(role, 'a'), 'master', 'br0', 'up');
    run('-n', NS(role), 'addr', 'add', `${ip(role)}/24`, 'dev', veth(role, 'b'));
    run('-n', NS(role), 'link', 'set', veth(role, 'b'), 'up');
    run('-n', NS(role), 'link', 'set', 'lo', 'up');
  }
  // The test process's own way onto the bridge.
  run('link', 'add', veth('t', 'a'), 'type', 'veth', 'peer', 'name', veth('t', 'b'));
  run('link', 'set', veth('t', 'a'), 'netns', NS('br'));
  run('-n', NS('br'), 'link', 'set', veth('t', 'a'), 'master', 'br0', 'up');
  run('addr', 'add', `${SUBNET}.1/24`, 'dev', veth('t', 'b'));
  run('link', 'set', veth('t', 'b'), 'up');
}

function tearNetworkDown(): void {
  for (const role of [...Object.keys(ROLES), 'br']) removeNamespace(NS(role));
  quietly(() => run('link', 'del', veth('t', 'b')));
}

function waitTcp(host: string, port: number, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`${host}:${port} did not answer within ${ms} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A task that notes where it ran (`<dir>/runs`: job id and node), then takes `ms`. */
const placedRun = async (dir: string, ms: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const context = taskContext();
  appendFileSync(`${dir}/runs`, `${context.jobId} ${context.node.name}\n`);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return context.node.name;
};

function placedRunBody(dir: string, count: number, ms: number): BulkCallRequest {
  const source = Function.prototype.toString.call(placedRun);
  const sha = createHash('sha256').update(source).digest('hex');
  return { fns: { [sha]: { name: 'placedRun', source } }, calls: Array.from({ length: count }, () => ({ fn: sha, args: encode([dir, ms]) })) };
}

function runsIn(dir: string): { id: string; node: string }[] {
  if (!existsSync(join(dir, 'runs'))) return [];
  return execFileSync('cat', [join(dir, 'runs')], { encoding: 'utf8' }).split('\n').filter(Boolean).map((line) => {
    const [id, node] = line.split(' ');
    return { id, node };
  });
}

test('three nodes in three network namespaces, Redis and NATS in a fourth, with a token, TLS and passwords', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('multi-host test: creating network namespaces (ip netns add) needs root; run it as root (CI does)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ks-multihost-'));
  const servers: ChildProcess[] = [];
  const nodes: KsNode[] = [];
  const clients: Client[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    // The cut-off node may still be cut off: its link comes back so it can stop cleanly.
    quietly(() => run('-n', NS('n3'), 'link', 'set', veth('n3', 'b'), 'up'));
    await Promise.all(nodes.map((n) => n.stop()));
    for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(servers.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    tearNetworkDown();
    rmSync(dir, { recursive: true, force: true });
  });
  removeStale();
  try {
    buildNetwork();
  } catch (error) {
    t.fail(`multi-host test: cannot build the network namespaces: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim()}`);
    return;
  }

  const pki = makePki(join(dir, 'pki'));
  const ca = await import('node:fs/promises').then((fs) => fs.readFile(pki.ca, 'utf8'));
  const auth: Auth = { token: TOKEN, ca };
  const svcCert = pki.issue('svc', [ip('svc')]);
  const redisPassword = `redis-${ID}-password`;
  const natsPassword = `nats-${ID}-password`;
  writeFileSync(join(dir, 'redis.conf'), [
    'port 0', 'tls-port 6380', `bind ${ip('svc')}`, `dir ${dir}`, 'save ""', 'appendonly no',
    `tls-cert-file ${svcCert.cert}`, `tls-key-file ${svcCert.key}`, `tls-ca-cert-file ${pki.ca}`, 'tls-auth-clients no',
    `requirepass ${redisPassword}`, 'maxmemory-policy noeviction',
  ].join('\n'), { mode: 0o600 });
  writeFileSync(join(dir, 'nats.conf'), [
    `listen: "${ip('svc')}:4222"`,
    `tls { cert_file: "${svcCert.cert}", key_file: "${svcCert.key}" }`,
    `authorization { user: "ks", password: "${natsPassword}" }`,
  ].join('\n'), { mode: 0o600 });
  servers.push(spawn('ip', ['netns', 'exec', NS('svc'), 'redis-server', join(dir, 'redis.conf')], { stdio: 'ignore' }));
  servers.push(spawn('ip', ['netns', 'exec', NS('svc'), NATS_BIN, '-c', join(dir, 'nats.conf')], { stdio: 'ignore' }));
  await waitTcp(ip('svc'), 6380);
  await waitTcp(ip('svc'), 4222);

  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  writeFileSync(join(dir, 'redis-url'), `rediss://:${redisPassword}@${ip('svc')}:6380`, { mode: 0o600 });
  writeFileSync(join(dir, 'nats-creds'), `ks:${natsPassword}`, { mode: 0o600 });
  const nodeFlags = (role: Role) => {
    const cert = pki.issue(role, [ip(role)]);
    return ['--node-url', `https://${ip(role)}:6323/`, '--token-file', join(dir, 'token'), '--tls-cert', cert.cert, '--tls-key', cert.key, '--tls-ca', pki.ca, '--locality-wait', '500'];
  };
  const first = await startNode({ name: 'ks-n1', workers: 1, wrap: ['ip', 'netns', 'exec', NS('n1')], flags: [...nodeFlags('n1'), '--redis-url-file', join(dir, 'redis-url'), '--nats-url', `tls://${ip('svc')}:4222`, '--nats-creds', join(dir, 'nats-creds')] });
  nodes.push(first);
  t.true(first.url.startsWith(`https://${ip('n1')}:`), first.url);
  // The others join through the first, over HTTPS with the token: they learn Redis, NATS and their credentials from it.
  const joined = await Promise.allSettled((['n2', 'n3'] as const).map((role) => startNode({ name: `ks-${role}`, workers: 1, wrap: ['ip', 'netns', 'exec', NS(role)], flags: [...nodeFlags(role), '--join', first.url] })));
  for (const outcome of joined) if (outcome.status === 'fulfilled') nodes.push(outcome.value);
  for (const outcome of joined) if (outcome.status === 'rejected') throw outcome.reason;
  const [, n2, n3] = nodes;

  const c = new Client(first.url, { token: TOKEN, ca, output: 'silent' });
  clients.push(c);
  setupClient(first.url, { token: TOKEN, ca, output: 'silent' });
  t.deepEqual((await c.hosts()).map((h) => [h.name, h.url]).sort(), [['ks-n1', first.url], ['ks-n2', n2.url], ['ks-n3', n3.url]]);
  for (const node of nodes) t.notRegex(node.output(), new RegExp(`${redisPassword}|${natsPassword}|${TOKEN}`), `${node.name} logs no secret`);

  // Data-locality routing across the namespaces: data saved on n2 draws the call to n2.
  const d = dobj({ values: Array.from({ length: 20_000 }, (_, i) => i) });
  d.rpcUrl = n2.url;
  await d.save();
  const where = async (data: RemoteData<{ values: number[] }>) => {
    const { taskContext } = await import('kitchensink');
    return `${taskContext().node.name}:${(await data.obj()).values.length}`;
  };
  t.is(await c.call(where, d), 'ks-n2:20000');
  // A peer copy over HTTPS: a call pinned to n3 reads the data n2 holds.
  t.is(await c.callWith({ queue: 'default|ks-n3' }, where, d), 'ks-n3:20000');
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders.sort(), ['ks-n2', 'ks-n3']);

  // n3's link is cut while it runs a job: the job is taken back, and every result arrives once.
  const submitted = await bulkcall(first.url, placedRunBody(dir, 6, 2500), undefined, auth);
  await eventually(() => runsIn(dir).some((r) => r.node === 'ks-n3'), 20_000, 'n3 to start a job');
  const cutAt = runsIn(dir);
  run('-n', NS('n3'), 'link', 'set', veth('n3', 'b'), 'down');
  const onN3 = cutAt.filter((r) => r.node === 'ks-n3').map((r) => r.id);
  const { outcomes, failed } = await collect(first.url, submitted, auth);
  t.deepEqual(failed, []);
  t.deepEqual([...outcomes.keys()].sort(), [...submitted.ids].sort(), 'every job has its outcome');
  t.deepEqual([...outcomes.values()].filter((n) => n !== 1), [], 'each delivered once');
  const runs = runsIn(dir);
  for (const id of onN3) t.true(runs.some((r) => r.id === id && r.node !== 'ks-n3'), `${id}, cut off on n3, ran again elsewhere`);
  t.log(`accepted ${submitted.ids.length}, delivered ${outcomes.size}, executions ${runs.length} (${onN3.length} taken back from n3), lost 0, delivered twice 0`);
  t.false((await c.hosts()).some((h) => h.name === 'ks-n3'), 'n3 is out of the cluster while cut off');

  // Its link back: n3 rejoins and works again.
  run('-n', NS('n3'), 'link', 'set', veth('n3', 'b'), 'up');
  await eventually(async () => (await c.hosts()).some((h) => h.name === 'ks-n3'), 20_000, 'n3 to rejoin');
  t.is(await c.callWith({ queue: 'default|ks-n3' }, async () => (await import('kitchensink')).taskContext().node.name), 'ks-n3');
});
