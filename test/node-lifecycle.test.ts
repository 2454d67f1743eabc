import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client } from '../index.js';
import { alive, freePort, processesUsing, runKs, startNode, startServices } from './helpers/cluster.js';

const KS_BIN = new URL('../../bin/ks.js', import.meta.url).pathname;

interface ServiceInfo {
  name: string;
  pid: number;
  url: string;
}

async function servicesOf(url: string): Promise<ServiceInfo[]> {
  const status = (await (await fetch(new URL('rpc/node', url))).json()) as { services: ServiceInfo[] };
  return status.services;
}

function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function waitGone(pids: number[], ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** If a test fails midway, the servers it checks are stopped anyway. */
function killLeftovers(pids: number[]): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
}

/** Non-empty lines of a command's stderr. */
const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test.serial(`after ${signal} no redis-server or nats-server of the node is left`, async (t) => {
    const datadir = tempDir(t, `ks-${signal}-`);
    const node = await startNode({ name: `life-${signal.toLowerCase()}`, datadir });
    t.teardown(() => node.stop());
    const services = await servicesOf(node.url);
    t.teardown(() => killLeftovers(services.map((s) => s.pid)));
    t.deepEqual(services.map((s) => s.name), ['redis-server', 'nats-server']);
    t.regex(node.output(), new RegExp(`started redis-server redis://127\\.0\\.0\\.1:\\d+ \\(pid ${services[0].pid}\\), nats-server nats://127\\.0\\.0\\.1:\\d+ \\(pid ${services[1].pid}\\)`));
    for (const { pid } of services) t.true(alive(pid), `pid ${pid} runs`);
    // The check used below does see them while they run.
    t.deepEqual(processesUsing(datadir, [node.pid]).map((p) => p.pid).sort(), services.map((s) => s.pid).sort());
    // The node works, and its Redis keeps an append-only file under the datadir.
    const c = new Client(node.url, { output: 'silent' });
    t.is(await c.call((x: number) => x + 1, 1), 2);
    await c.close();
    t.true(existsSync(join(datadir, '.ks', 'redis', 'appendonlydir')));

    const code = await node.stop(signal);
    t.is(code, 0);
    await waitGone(services.map((s) => s.pid));
    for (const { pid, name } of services) t.false(alive(pid), `${name} (pid ${pid}) is gone`);
    t.deepEqual(processesUsing(datadir), []);
    t.false(existsSync(join(datadir, '.ks', 'redis', 'pid')), 'pid files are removed');
  });
}

test.serial('a port in use: exit 1 with one line naming the port, and nothing left running', async (t) => {
  const datadir = tempDir(t, 'ks-port-');
  const port = await freePort();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(port)]);
  t.is(run.code, 1);
  t.deepEqual(lines(run.stderr), [`ks start: port ${port} on 127.0.0.1 is already in use: pick another with --node-port or --node-url`]);
  // It failed halfway: Redis had been started (its log exists), and was stopped again.
  t.true(existsSync(join(datadir, '.ks', 'redis', 'redis.log')));
  t.true(existsSync(join(datadir, '.ks', 'nats', 'nats.log')));
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('a node or queue name that cannot be part of keys, host queues and subjects: exit 1 with one line, nothing started', async (t) => {
  for (const [flags, message] of [
    [['--node-name', 'a|b'], 'ks start: node name "a|b" is not allowed: use 1 to 100 letters, digits, \'-\' or \'_\''],
    [['--node-name', 'node.1'], 'ks start: node name "node.1" is not allowed: use 1 to 100 letters, digits, \'-\' or \'_\''],
    [['--queue', 'gpu,fast'], 'ks start: queue name "gpu,fast" is not allowed: use 1 to 100 letters, digits, \'-\' or \'_\' (a node\'s own host queues are added for it)'],
  ] as const) {
    const datadir = tempDir(t, 'ks-name-');
    const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort()), ...flags]);
    t.is(run.code, 1);
    t.deepEqual(lines(run.stderr), [message]);
    t.false(existsSync(join(datadir, '.ks', 'redis')), 'no redis-server was started');
    t.deepEqual(processesUsing(datadir), []);
  }
});

test.serial('SIGTERM while start-up waits for a server: the servers started so far and the one starting are stopped', async (t) => {
  const datadir = tempDir(t, 'ks-midstart-');
  // A nats-server that never answers: the node waits for it (up to 15 s) with Redis running.
  const fake = join(tempDir(t, 'ks-fake-nats-'), 'nats-server');
  writeFileSync(fake, '#!/usr/bin/env node\nsetTimeout(() => undefined, 60_000);\n');
  chmodSync(fake, 0o755);
  const child = spawn(process.execPath, [KS_BIN, 'start', '--datadir', datadir, '--node-port', String(await freePort())], {
    stdio: 'ignore',
    env: { ...process.env, KS_LOG_LEVEL: 'warn', KS_NATS_SERVER: fake },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
    killLeftovers(processesUsing(datadir, [child.pid!]).map((p) => p.pid));
  });
  // Both are running: redis-server (cwd in the datadir) and the fake nats-server (its -l
  // argument); each server's watchdog may be among the processes too.
  const bothRun = (list: { command: string }[]) => list.some((p) => p.command.includes(fake)) && list.some((p) => p.command.includes('redis-server'));
  const deadline = Date.now() + 15_000;
  while (!bothRun(processesUsing(datadir, [child.pid!])) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  const servers = processesUsing(datadir, [child.pid!]);
  t.true(servers.some((p) => p.command.includes('redis-server')), `redis-server runs: ${JSON.stringify(servers)}`);
  t.true(servers.some((p) => p.command.includes(fake)), `the fake nats-server runs: ${JSON.stringify(servers)}`);
  child.kill('SIGTERM');
  t.is(await exited, 0);
  await waitGone(servers.map((p) => p.pid));
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('a missing redis-server: one line naming the Debian package, nothing left running', async (t) => {
  const datadir = tempDir(t, 'ks-noredis-');
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort())], { env: { KS_REDIS_SERVER: '/nonexistent/redis-server' } });
  t.is(run.code, 1);
  t.deepEqual(lines(run.stderr), ['ks start: redis-server not found at /nonexistent/redis-server (KS_REDIS_SERVER): install it with `apt-get install redis-server` (or use a running server with --redis-url URL)']);
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('a missing nats-server after Redis started: one line naming the package, and Redis is stopped again', async (t) => {
  const datadir = tempDir(t, 'ks-nonats-');
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort())], { env: { KS_NATS_SERVER: '/nonexistent/nats-server' } });
  t.is(run.code, 1);
  t.deepEqual(lines(run.stderr), ['ks start: nats-server not found at /nonexistent/nats-server (KS_NATS_SERVER): install it with `apt-get install nats-server` (or use a running server with --nats-url URL)']);
  t.true(existsSync(join(datadir, '.ks', 'redis', 'redis.log')), 'redis-server had started');
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('without a binary on PATH the node still finds the Debian locations (/usr/sbin, /usr/bin)', async (t) => {
  const emptyPath = tempDir(t, 'ks-emptypath-');
  const node = await startNode({ name: 'life-path', env: { PATH: emptyPath } });
  t.teardown(() => node.stop());
  t.deepEqual((await servicesOf(node.url)).map((s) => s.name), ['redis-server', 'nats-server']);
});

/** The watchdog shells (actors/node/watchdog.ts) watching `pids`. */
function watchdogsOf(pids: number[]): number[] {
  return processesUsing('ks-watchdog').filter((p) => pids.some((pid) => p.command.includes(` ${pid} `))).map((p) => p.pid);
}

for (const how of ['SIGKILL from outside', 'a task\'s process.kill(process.pid, \'SIGKILL\')'] as const) {
  test.serial(`a node killed by ${how} leaves no redis-server or nats-server behind`, async (t) => {
    const datadir = tempDir(t, 'ks-killed-');
    const node = await startNode({ name: 'life-killed', datadir });
    const servers = (await servicesOf(node.url)).map((s) => s.pid);
    t.teardown(() => killLeftovers(servers));
    t.is(servers.length, 2);
    t.is(watchdogsOf(servers).length, 2, 'one watchdog per server');
    if (how === 'SIGKILL from outside') {
      await node.stop('SIGKILL');
    } else {
      const c = new Client(node.url, { output: 'silent' });
      t.teardown(() => c.close());
      await c.call(() => { process.kill(process.pid, 'SIGKILL'); }).catch(() => undefined);
      await node.stop('SIGKILL'); // waits for the exit the task caused
    }
    await waitGone(servers, 8000);
    t.false(servers.some(alive), 'the servers went with their node');
    t.deepEqual(processesUsing(datadir), []);
    const deadline = Date.now() + 3000;
    while (watchdogsOf(servers).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(watchdogsOf(servers), [], 'and so did the watchdogs');
  });
}

test.serial('a server left by an earlier node in the datadir (its watchdog gone too) is ended by the next start', async (t) => {
  const datadir = tempDir(t, 'ks-stale-');
  const first = await startNode({ name: 'life-stale', datadir });
  const orphans = (await servicesOf(first.url)).map((s) => s.pid);
  t.teardown(() => killLeftovers(orphans));
  // The watchdogs die first (as a kill of the whole process group would do), then the node.
  for (const pid of watchdogsOf(orphans)) process.kill(pid, 'SIGKILL');
  await first.stop('SIGKILL');
  t.true(orphans.every(alive), 'nothing was left to stop them');
  const second = await startNode({ name: 'life-stale', datadir });
  t.teardown(() => second.stop());
  await waitGone(orphans);
  t.false(orphans.some(alive), 'the new node ended the old servers');
  const now = (await servicesOf(second.url)).map((s) => s.pid);
  t.deepEqual(processesUsing(datadir, [second.pid]).map((p) => p.pid).sort(), [...now].sort());
  const code = await second.stop('SIGTERM');
  t.is(code, 0);
  await waitGone(now);
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('with --redis-url and --nats-url the node starts no server of its own', async (t) => {
  const services = await startServices();
  t.teardown(() => services.stop());
  const datadir = tempDir(t, 'ks-external-');
  const node = await startNode({ name: 'life-external', services, datadir });
  t.teardown(() => node.stop());
  t.deepEqual(await servicesOf(node.url), []);
  t.deepEqual(processesUsing(datadir, [node.pid]), []);
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  t.is(await c.call(() => 'external'), 'external');
});

test.serial('--join with a non-loopback --node-url to a cluster on loopback Redis/NATS: one line saying why, nothing started', async (t) => {
  const tokenFile = join(tempDir(t, 'ks-token-'), 'token');
  writeFileSync(tokenFile, 'secret\n', { mode: 0o600 });
  const head = await startNode({ name: 'life-head', flags: ['--token-file', tokenFile] }); // its own redis-server and nats-server, on 127.0.0.1
  t.teardown(() => head.stop());
  const datadir = tempDir(t, 'ks-join-');
  const run = await runKs(['start', '--datadir', datadir, '--join', head.url, '--node-url', 'http://192.0.2.7:6400/', '--token-file', tokenFile]);
  t.is(run.code, 1);
  const c = new Client(head.url, { output: 'silent', token: 'secret' });
  t.teardown(() => c.close());
  const port = /redis:\/\/127\.0\.0\.1:(\d+)/.exec(head.output())![1];
  t.deepEqual(lines(run.stderr).filter((l) => l.startsWith('ks start:')), [
    `ks start: --join ${head.url}: the cluster uses redis://***@127.0.0.1:${port}, a loopback address this node (192.0.2.7:6400) would take for its own; start the head with --redis-url/--nats-url on servers every machine can reach`,
  ]);
  t.deepEqual(processesUsing(datadir), []);
  t.deepEqual((await c.hosts()).map((h) => h.name), ['life-head']);
});

test.serial('--join to a cluster without a token: refused with one line, its credentials are handed to no one', async (t) => {
  const head = await startNode({ name: 'life-open' });
  t.teardown(() => head.stop());
  const answer = await fetch(new URL('rpc/cluster', head.url));
  t.is(answer.status, 403);
  const body = await answer.text();
  t.false(/redis:\/\/[^"]*@|nats:\/\/[^"]*@/.test(body), body);
  const datadir = tempDir(t, 'ks-join-open-');
  const run = await runKs(['start', '--datadir', datadir, '--node-port', String(await freePort()), '--join', head.url]);
  t.is(run.code, 1);
  t.regex(lines(run.stderr).filter((l) => l.startsWith('ks start:')).join('\n'), /^ks start: --join \S+: the node answered 403: .*has no token, so it hands its Redis and NATS credentials to no one: start the cluster's nodes with --token-file \(or --token\) to let nodes --join it/);
  t.deepEqual(processesUsing(datadir), []);
});

test.serial('a --node-url that is not a URL: one line naming the flag', async (t) => {
  const datadir = tempDir(t, 'ks-badurl-');
  const run = await runKs(['start', '--datadir', datadir, '--node-url', 'not a url']);
  t.is(run.code, 1);
  t.deepEqual(lines(run.stderr), ['ks start: --node-url not a url is not a URL (for example http://127.0.0.1:6323/)']);
});

test.serial('ks start without --datadir says what is missing; --help lists the flags of architecture §9', async (t) => {
  const missing = await runKs(['start']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /Missing required flag datadir/);
  t.regex(missing.stderr, /See more help with --help/);
  const help = await runKs(['start', '--help']);
  t.is(help.code, 0);
  for (const flag of ['--datadir', '--num-workers', '--node-url', '--node-name', '--node-port', '--redis-url', '--[no-]redis', '--nats-url', '--[no-]nats', '--read-only', '--module', '--queue', '--prefix', '--token', '--max-body']) {
    t.true(help.stdout.includes(flag), flag);
  }
});
