import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { waitForPort } from '../src/loopback-ports.js';
import { freePort, startNode, type KsNode } from './helpers/cluster.js';
import { eventually } from './helpers/data.js';
import { sideEffects } from './helpers/outcomes.js';
import { bulkcall, collect, recordRunBody, runsIn, type Submitted } from './helpers/raw-submit.js';

/**
 * A NATS cluster of three servers (routes between them, a user and password) behind two
 * nodes given all three in `--nats-url`; the server with the nodes' connections is killed
 * mid-workload. NATS only notifies (architecture §4): nothing may be lost or delivered twice.
 */

const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
const NATS_PASSWORD = 'nats-cluster-password';

interface NatsServer {
  child: ChildProcess;
  port: number;
  monitor: number;
}

test('a NATS cluster of 3 servers with the busiest one killed mid-workload: nothing lost, nothing delivered twice', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-nats-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: KsNode[] = [];
  const runs = sideEffects();
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    runs.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const redisPort = await freePort();
  children.push(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }));
  const ports = await Promise.all([0, 1, 2].map(async () => ({ port: await freePort(), route: await freePort(), monitor: await freePort() })));
  const servers: NatsServer[] = ports.map((p, i) => {
    const config = join(dir, `nats-${i}.conf`);
    writeFileSync(config, [
      `server_name: "ks-nats-${i}"`,
      `listen: "127.0.0.1:${p.port}"`,
      `http: "127.0.0.1:${p.monitor}"`,
      `authorization { user: "ks", password: "${NATS_PASSWORD}" }`,
      `cluster { name: "ks-test", listen: "127.0.0.1:${p.route}", routes: [${ports.filter((_, j) => j !== i).map((o) => `"nats://127.0.0.1:${o.route}"`).join(', ')}] }`,
    ].join('\n'), { mode: 0o600 });
    const child = spawn(NATS_BIN, ['-c', config], { stdio: 'ignore' });
    children.push(child);
    return { child, port: p.port, monitor: p.monitor };
  });
  await waitForPort(redisPort);
  for (const s of servers) await waitForPort(s.port);
  await eventually(async () => (await Promise.all(servers.map((s) => monitor<{ num_routes: number }>(s, 'routez')))).every((r) => r.num_routes === 2), 10_000, 'the three servers to route to each other');

  // The credentials ride in the first url; the other two are the cluster's other servers.
  const natsUrl = servers.map((s, i) => `nats://${i === 0 ? `ks:${NATS_PASSWORD}@` : ''}127.0.0.1:${s.port}`).join(',');
  const urlFile = join(dir, 'nats-url');
  writeFileSync(urlFile, natsUrl, { mode: 0o600 });
  for (const name of ['nc-1', 'nc-2']) {
    nodes.push(await startNode({ name, workers: 2, flags: ['--redis-url', `redis://127.0.0.1:${redisPort}`], env: { KS_NATS_URL: natsUrl } }));
  }

  // Every node's connection sits on some server: kill the one holding the most.
  const connections = await Promise.all(servers.map((s) => monitor<{ num_connections: number }>(s, 'connz')));
  const victim = servers[connections.reduce((best, c, i) => (c.num_connections > connections[best].num_connections ? i : best), 0)];
  t.true(connections.reduce((sum, c) => sum + c.num_connections, 0) >= 2, JSON.stringify(connections));

  const batches: { head: KsNode; submitted: Submitted }[] = [];
  batches.push({ head: nodes[0], submitted: await bulkcall(nodes[0].url, recordRunBody(runs.dir, 60, { ms: 100 })) });
  batches.push({ head: nodes[1], submitted: await bulkcall(nodes[1].url, recordRunBody(runs.dir, 60, { ms: 100 })) });
  await eventually(() => runs.lines().length >= 20, 20_000, 'a third of the jobs to run');
  victim.child.kill('SIGKILL');
  // And more work after it is gone, through both nodes.
  for (const head of nodes) batches.push({ head, submitted: await bulkcall(head.url, recordRunBody(runs.dir, 20, { ms: 20 })) });

  const accepted = batches.flatMap((b) => b.submitted.ids);
  const delivered = new Map<string, number>();
  for (const { head, submitted } of batches) {
    const { outcomes, failed } = await collect(head.url, submitted);
    t.deepEqual(failed, []);
    for (const [id, n] of outcomes) delivered.set(id, (delivered.get(id) ?? 0) + n);
  }
  const executed = runsIn(runs.dir);
  const lost = accepted.filter((id) => !delivered.has(id));
  const deliveredTwice = [...delivered].filter(([, n]) => n > 1).map(([id]) => id);
  const neverRan = accepted.filter((id) => !executed.has(id));
  const ranTwice = [...executed].filter(([, n]) => n > 1).length;
  t.log(`accepted ${accepted.length}, delivered ${delivered.size}, executed ${executed.size} (${ranTwice} more than once), lost ${lost.length}, delivered twice ${deliveredTwice.length}`);
  t.is(accepted.length, 160);
  t.deepEqual(lost, []);
  t.deepEqual(deliveredTwice, []);
  t.deepEqual(neverRan, []);
  t.is(ranTwice, 0, 'no node was lost, so no job needed a second run');
  t.false(await monitor(victim, 'varz').then(() => true, () => false), 'the killed server is down');
});

async function monitor<T>(server: NatsServer, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${server.monitor}/${path}`, { signal: AbortSignal.timeout(2000) });
  return (await response.json()) as T;
}
