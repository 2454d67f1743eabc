import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Client, KsError } from '../index.js';
import { encode } from '../src/codec.js';
import { freePort, processesUsing, runKs, startNode, type KsNode } from './helpers/cluster.js';

const TOKEN = 's3cret-token';
let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'guarded', workers: 1, flags: ['--token', TOKEN] });
});

test.after.always(async () => {
  await node?.stop();
});

async function expect401(t: { is(a: unknown, b: unknown, m?: string): void; regex(a: string, r: RegExp): void }, response: Response, what: string): Promise<void> {
  t.is(response.status, 401, what);
  t.is(response.headers.get('content-type')?.split(';')[0], 'application/json', what);
  const body = (await response.json()) as { error: string; code: string };
  t.is(body.code, 'unauthorized', what);
  t.regex(body.error, /missing or wrong token/);
}

test('requests without the token, or with a wrong one, get 401 { error, code: "unauthorized" }', async (t) => {
  const routes: [string, string, Uint8Array?][] = [
    ['GET', 'rpc/ping'],
    ['GET', 'rpc/hosts'],
    ['GET', 'rpc/node'],
    ['GET', 'rpc/cluster'],
    ['GET', 'rpc/status/0000000000000000000-00000'],
    ['POST', 'rpc/bulkcall', encode({ fns: {}, calls: [] })],
    ['POST', 'rpc/call/x', encode({})],
    ['POST', 'rpc/bulkstatus', encode({ batch: 'x', ids: ['x-1'] })],
    ['POST', 'rpc/cancel/x'],
    ['POST', 'rpc/bulkcancel', encode({ ids: [] })],
    ['GET', 'rpc/no-such-route'],
  ];
  for (const [method, route, body] of routes) {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, TOKEN, `bearer ${TOKEN} `]) {
      const headers: Record<string, string> = body ? { 'content-type': 'application/cbor' } : {};
      if (authorization) headers.authorization = authorization;
      await expect401(t, await fetch(new URL(route, node.url), { method, headers, body }), `${method} ${route} with ${authorization}`);
    }
  }
});

test('a Client with the token works; one without gets a KsError unauthorized', async (t) => {
  const good = new Client(node.url, { token: TOKEN, output: 'silent' });
  t.teardown(() => good.close());
  good.bc((x: number) => x * 2, 21);
  t.deepEqual(await good.br(), [42]);
  t.is(await good.call((s: string) => s.toUpperCase(), 'ok'), 'OK');
  t.is(await good.callWith({ async: false }, () => 'direct'), 'direct');
  t.like(await good.ping(), { ok: true, node: 'guarded' });

  const bad = new Client(node.url, { output: 'silent' });
  t.teardown(() => bad.close());
  const error = await t.throwsAsync(bad.ping(), { instanceOf: KsError });
  t.is(error!.code, 'unauthorized');
  t.is(error!.status, 401);
  bad.bc((x: number) => x, 1);
  await t.throwsAsync(bad.execute(), { instanceOf: KsError, message: /missing or wrong token/ });
  const wrong = new Client(node.url, { token: 'nope', output: 'silent' });
  t.teardown(() => wrong.close());
  await t.throwsAsync(wrong.call((x: number) => x, 1), { instanceOf: KsError, message: /missing or wrong token/ });
});

test('the token can come from KS_TOKEN', async (t) => {
  const fromEnv = await startNode({ name: 'env-token', env: { KS_TOKEN: 'from-env' } });
  t.teardown(() => fromEnv.stop());
  t.is((await fetch(new URL('rpc/ping', fromEnv.url))).status, 401);
  const c = new Client(fromEnv.url, { token: 'from-env', output: 'silent' });
  t.teardown(() => c.close());
  t.like(await c.ping(), { ok: true });
});

test('binding a non-loopback address without a token refuses to start, before binding or starting anything', async (t) => {
  const port = await freePort();
  const datadir = mkdtempSync(join(tmpdir(), 'ks-nontoken-'));
  t.teardown(() => rmSync(datadir, { recursive: true, force: true }));
  const run = await runKs(['start', '--datadir', datadir, '--node-url', `http://0.0.0.0:${port}/`], { env: { KS_TOKEN: '' } });
  t.is(run.code, 1);
  t.regex(run.stderr, /^ks start: binding 0\.0\.0\.0 \(not a loopback address\) requires a token: pass --token or set KS_TOKEN$/m);
  t.notRegex(run.stdout, /listening/);
  // Nothing listens on that port (0.0.0.0 would include 127.0.0.1), and no server was started.
  const listening = await new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  t.false(listening);
  t.deepEqual(processesUsing(datadir), []);
});
