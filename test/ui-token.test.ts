/**
 * The view-only token (`--ui-token`, `KS_UI_TOKEN`, `--ui-token-file`) on real nodes: it
 * opens the dashboard's data and event stream, /metrics and the job history (200), every
 * route that submits, cancels, reads or writes data or deletes answers it 403 with a message
 * naming --token; without a token everything but the public routes is 401; the main token
 * still opens everything; neither token shows up in a node's output.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { request } from 'undici';
import { Client, KsError, type JobHistoryEntry } from '../index.js';
import { encode } from '../src/codec.js';
import { runKs, startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const FULL = 'full-secret-7c1d';
const VIEW = 'view-secret-42aa';
const FILE_VIEW = 'view-from-file-9e0b';

let services: Services;
let byEnv: KsNode;
let byFile: KsNode;
let fileDir: string;
let owner: Client;
let jobId = '';

function echo(x: number): number {
  return x;
}

test.before(async () => {
  services = await startServices();
  fileDir = mkdtempSync(join(tmpdir(), 'ks-ui-token-'));
  const file = join(fileDir, 'view-token');
  writeFileSync(file, `${FILE_VIEW}\n`);
  [byEnv, byFile] = await Promise.all([
    startNode({ name: 'v-env', services, flags: ['--token', FULL], env: { KS_UI_TOKEN: VIEW } }),
    startNode({ name: 'v-file', services, flags: ['--token', FULL, '--ui-token-file', file] }),
  ]);
  owner = new Client(byEnv.url, { token: FULL, output: 'silent' });
  owner.bc(echo, 1);
  [jobId] = await owner.execute();
  await owner.br();
});

test.after.always(async () => {
  await owner?.close();
  await Promise.all([byEnv?.stop(), byFile?.stop()]);
  await services?.stop();
  if (fileDir) rmSync(fileDir, { recursive: true, force: true });
});

type Method = 'GET' | 'POST' | 'DELETE';
interface Route {
  method: Method;
  path: () => string;
  body?: unknown;
}

function cbor(value: unknown): { body?: Buffer; headers?: Record<string, string> } {
  return { body: Buffer.from(encode(value)), headers: { 'content-type': 'application/cbor' } };
}

/** Read-only routes the view token opens. */
const VIEWABLE: Route[] = [
  { method: 'GET', path: () => 'ui/api/snapshot' },
  { method: 'GET', path: () => 'ui/api/node' },
  { method: 'GET', path: () => 'ui/api/data?glob=**' },
  { method: 'GET', path: () => 'ui/api/stream' },
  { method: 'GET', path: () => 'metrics' },
  { method: 'GET', path: () => 'rpc/jobs' },
  { method: 'GET', path: () => `rpc/job/${jobId}` },
  { method: 'GET', path: () => 'rpc/ping' },
  { method: 'GET', path: () => 'rpc/hosts' },
  { method: 'GET', path: () => 'rpc/queues' },
];

/** Routes that submit, cancel, read results or data, write or delete, or tell the cluster's services. */
const FORBIDDEN: Route[] = [
  { method: 'POST', path: () => 'rpc/bulkcall', body: { calls: [] } },
  { method: 'POST', path: () => 'rpc/call/echo', body: { calls: [] } },
  { method: 'POST', path: () => `rpc/cancel/${jobId}` },
  { method: 'POST', path: () => 'rpc/bulkcancel', body: { ids: [jobId] } },
  { method: 'POST', path: () => 'rpc/cancel-all' },
  { method: 'POST', path: () => 'rpc/bulkstatus', body: { ids: [jobId] } },
  { method: 'POST', path: () => 'rpc/results', body: { ids: [jobId] } },
  { method: 'GET', path: () => `rpc/status/${jobId}` },
  { method: 'GET', path: () => `rpc/result/${jobId}` },
  { method: 'DELETE', path: () => `rpc/result/${jobId}` },
  { method: 'GET', path: () => 'rpc/data/view/a' },
  { method: 'POST', path: () => 'rpc/data/view/a', body: 'bytes' },
  { method: 'DELETE', path: () => 'rpc/data/view/a' },
  { method: 'POST', path: () => 'rpc/data-info', body: { urls: ['view/a'] } },
  { method: 'POST', path: () => 'rpc/data-import', body: { paths: ['/nonexistent/ks-ui-token'] } },
  { method: 'GET', path: () => 'rpc/search?glob=**' },
  { method: 'GET', path: () => 'rpc/cluster' },
  { method: 'GET', path: () => 'rpc/node' },
];

/** The status of one request (an event stream is closed once its head arrives). */
async function statusOf(node: KsNode, route: Route, token?: string): Promise<{ status: number; body: string }> {
  const abort = new AbortController();
  const payload = route.body === undefined ? {} as ReturnType<typeof cbor> : cbor(route.body);
  const response = await request(new URL(route.path(), node.url), {
    method: route.method,
    body: payload.body,
    headers: { ...payload.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: abort.signal,
  });
  if (route.path().startsWith('ui/api/stream')) {
    abort.abort();
    await response.body.dump().catch(() => undefined);
    return { status: response.statusCode, body: '' };
  }
  return { status: response.statusCode, body: await response.body.text() };
}

const name = (route: Route) => `${route.method} /${route.path()}`;

for (const [label, node, view] of [['KS_UI_TOKEN', () => byEnv, VIEW], ['--ui-token-file', () => byFile, FILE_VIEW]] as const) {
  test.serial(`${label}: the view token opens the dashboard, /metrics and history; no token is a 401`, async (t) => {
    for (const route of VIEWABLE) {
      t.is((await statusOf(node(), route, view)).status, 200, `${name(route)} with the view token`);
      t.is((await statusOf(node(), route)).status, 401, `${name(route)} without a token`);
      t.is((await statusOf(node(), route, 'wrong')).status, 401, `${name(route)} with a wrong token`);
    }
  });

  test.serial(`${label}: the view token gets a 403 naming --token on every route that acts; the main token is not refused`, async (t) => {
    for (const route of FORBIDDEN) {
      const answer = await statusOf(node(), route, view);
      t.is(answer.status, 403, `${name(route)} with the view token`);
      t.regex(answer.body, /view-only token \(--ui-token\).*--token|--token.*view-only/, name(route));
      t.is((await statusOf(node(), route)).status, 401, `${name(route)} without a token`);
      const full = await statusOf(node(), route, FULL);
      t.true(full.status !== 401 && full.status !== 403, `${name(route)} with the main token: ${full.status}`);
    }
  });
}

test.serial('the main token opens everything the view token opens', async (t) => {
  for (const route of VIEWABLE) t.is((await statusOf(byEnv, route, FULL)).status, 200, name(route));
});

test.serial('a Client and ks with the view token read the history but cannot submit or cancel', async (t) => {
  const viewer = new Client(byEnv.url, { token: VIEW, output: 'silent' });
  t.teardown(() => viewer.close());
  t.is((await viewer.job(jobId) as JobHistoryEntry).outcome, 'ok');
  t.true((await viewer.jobs()).some((job) => job.id === jobId));
  viewer.bc(echo, 2);
  const refused = await t.throwsAsync(viewer.execute(), { instanceOf: KsError });
  t.is((refused as KsError).code, 'forbidden');

  const listed = await runKs(['jobs', '--node', byEnv.url, '--token', VIEW, '--json']);
  t.is(listed.code, 0, listed.stderr);
  t.true((JSON.parse(listed.stdout) as JobHistoryEntry[]).some((job) => job.id === jobId));
  const cancel = await runKs(['cancel', '--all', '--node', byEnv.url], { env: { KS_TOKEN: VIEW } });
  t.not(cancel.code, 0);
  t.regex(cancel.stderr, /--token/);
  t.regex(cancel.stderr, /view-only/);
});

test.serial('neither token shows up in the nodes\' output', (t) => {
  for (const node of [byEnv, byFile]) {
    for (const secret of [FULL, VIEW, FILE_VIEW]) t.false(node.output().includes(secret), `${node.name} printed a token`);
  }
});

test.serial('--ui-token without --token, or equal to it, is refused at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-ui-token-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const alone = await runKs(['start', '--datadir', dir, '--no-redis', '--no-nats', '--ui-token', VIEW], { timeoutMs: 15_000 });
  t.not(alone.code, 0);
  t.regex(alone.stdout + alone.stderr, /--ui-token \(KS_UI_TOKEN\) needs --token/);
  const same = await runKs(['start', '--datadir', dir, '--no-redis', '--no-nats', '--token', FULL, '--ui-token', FULL], { timeoutMs: 15_000 });
  t.not(same.code, 0);
  t.regex(same.stdout + same.stderr, /--ui-token must differ from --token/);
  t.false((alone.stdout + alone.stderr + same.stdout + same.stderr).includes(VIEW), 'the token is not echoed');
});
