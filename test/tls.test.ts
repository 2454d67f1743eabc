import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, dobj, setupClient, type RemoteData } from '../index.js';
import { freePort, startNode, type KsNode } from './helpers/cluster.js';
import { makePki } from './helpers/certs.js';
import { waitForPort } from '../src/loopback-ports.js';

/**
 * TLS end to end on loopback (docs/security.md): Redis over `rediss://` with a password, NATS
 * over TLS with a token, the API over HTTPS, clients and peer copies trusting the test's CA.
 */

const TOKEN = 'tls-test-token';
const REDIS_PASSWORD = 'redis-tls-password';
const NATS_TOKEN = 'nats-tls-token';

let dir: string;
let servers: ChildProcess[] = [];
let nodes: KsNode[] = [];
let ca: string;

function server(binary: string, args: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: 'ignore' });
  servers.push(child);
  return child;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ks-tls-'));
  const pki = makePki(join(dir, 'pki'));
  ca = pki.ca;
  const redisCert = pki.issue('redis', []);
  const natsCert = pki.issue('nats', []);
  const [redisPort, natsPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'redis.conf'), [
    'port 0', `tls-port ${redisPort}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no',
    `tls-cert-file ${redisCert.cert}`, `tls-key-file ${redisCert.key}`, `tls-ca-cert-file ${pki.ca}`, 'tls-auth-clients no',
    `requirepass ${REDIS_PASSWORD}`,
  ].join('\n'), { mode: 0o600 });
  writeFileSync(join(dir, 'nats.conf'), [
    `listen: "127.0.0.1:${natsPort}"`,
    `tls { cert_file: "${natsCert.cert}", key_file: "${natsCert.key}" }`,
    `authorization { token: "${NATS_TOKEN}" }`,
  ].join('\n'), { mode: 0o600 });
  server('redis-server', [join(dir, 'redis.conf')]);
  server(existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server', ['-c', join(dir, 'nats.conf')]);
  await waitForPort(redisPort);
  await waitForPort(natsPort);

  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  writeFileSync(join(dir, 'redis-url'), `rediss://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'nats-creds'), `${NATS_TOKEN}\n`, { mode: 0o600 });
  for (const name of ['tls-1', 'tls-2']) {
    const cert = pki.issue(name, []);
    nodes.push(await startNode({
      name,
      workers: 1,
      flags: [
        '--token-file', join(dir, 'token'), '--tls-cert', cert.cert, '--tls-key', cert.key, '--tls-ca', pki.ca,
        '--redis-url-file', join(dir, 'redis-url'), '--nats-url', `tls://127.0.0.1:${natsPort}`, '--nats-creds', join(dir, 'nats-creds'),
      ],
    }));
  }
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const child of servers) child.kill('SIGTERM');
  await Promise.all(servers.map((child) => child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : undefined));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.serial('the API is served over HTTPS: a client with the CA calls, one without it is refused the connection', async (t) => {
  t.regex(nodes[0].url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const c = new Client(nodes[0].url, { token: TOKEN, ca: await readCa(), output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call((x: number) => x + 1, 41), 42);
  t.deepEqual((await c.hosts()).map((h) => h.name).sort(), ['tls-1', 'tls-2']);
  const stranger = new Client(nodes[0].url, { token: TOKEN, output: 'silent', requestTimeoutMs: 5000 });
  t.teardown(() => stranger.close());
  const refused = await t.throwsAsync(stranger.ping());
  t.regex(`${refused?.message} ${String((refused?.cause as Error | undefined)?.message ?? '')}`, /self[- ]signed|unable to (get|verify)|certificate/i);
  // Plain HTTP to the HTTPS port gets nowhere either.
  const plain = await fetch(nodes[0].url.replace('https:', 'http:') + 'rpc/ping').then((r) => r.status, () => 'refused');
  t.not(plain, 200);
});

test.serial('a peer copy goes over HTTPS: data saved on one node is read by a task on the other', async (t) => {
  const caPem = await readCa();
  setupClient(nodes[0].url, { token: TOKEN, ca: caPem, output: 'silent' });
  const c = new Client(nodes[0].url, { token: TOKEN, ca: caPem, output: 'silent' });
  t.teardown(() => c.close());
  const d = dobj({ values: Array.from({ length: 1000 }, (_, i) => i) });
  d.rpcUrl = nodes[0].url;
  await d.save();
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders, ['tls-1']);
  const sum = await c.callWith({ queue: 'default|tls-2' }, async (data: RemoteData<{ values: number[] }>) => {
    const { taskContext } = await import('kitchensink');
    return `${taskContext().node.name}:${(await data.obj()).values.reduce((a, b) => a + b, 0)}`;
  }, d);
  t.is(sum, `tls-2:${(999 * 1000) / 2}`);
  t.deepEqual((await c.dataInfo([d.dataUrl])).data[d.dataUrl].holders.sort(), ['tls-1', 'tls-2'], 'tls-2 copied it from tls-1');
});

async function readCa(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(ca, 'utf8');
}
