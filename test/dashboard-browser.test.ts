/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core):
 * with 3 nodes running a workload the page shows 3 live nodes, a queue draining, a failed
 * job's stack after clicking it, a data url with its holders; a SIGKILLed node turns dead on
 * the page within 5 s; with --token the page refuses until it is given, and the token never
 * appears in a url. Screenshots go to $KS_TEST_ARTIFACTS (default: <tmp>/ks-dashboard-screenshots).
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Client, RemoteError, dr, du, type RemoteData } from '../index.js';
import { startNode, startServices, type KsNode, type Services } from './helpers/cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = process.env.KS_TEST_ARTIFACTS ?? join(tmpdir(), 'ks-dashboard-screenshots');
const TOKEN = 'dashboard-secret-token-1234';
const VIEW_TOKEN = 'dashboard-view-only-5678';

let services: Services;
let nodes: KsNode[] = [];
let guarded: KsNode;
let c: Client;
let browser: BrowserContext | undefined;
let profile: string;

test.before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup (apt-get install chromium)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  services = await startServices();
  nodes = await Promise.all(['d1', 'd2', 'd3'].map((name) => startNode({ name, services })));
  guarded = await startNode({ name: 'guarded', services, flags: ['--prefix', 'tok', '--token', TOKEN, '--ui-token', VIEW_TOKEN] });
  c = new Client(nodes[0].url, { output: 'silent' });
  profile = mkdtempSync(join(tmpdir(), 'ks-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
});

test.after.always(async () => {
  await browser?.close().catch(() => undefined); // always closed, also when a test failed
  await c?.close();
  await Promise.all([...nodes, guarded].map((n) => n?.stop()));
  await services?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`) });
}

function failing(x: number): never {
  console.log(`working on ${x} before failing`);
  throw new TypeError(`dashboard boom ${x}`);
}

async function readData(d: RemoteData<Buffer>): Promise<number> {
  return (await d.raw()).length;
}

async function nap(ms: number): Promise<number> {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
}

test.serial('3 live nodes, a queue draining, a failed job\'s stack, a data url with its holders, and a SIGKILLed node turning dead', async (t) => {
  const page = await browser!.newPage();
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${nodes[1].url}ui/`);
  await page.waitForFunction(`document.querySelectorAll('tr.node.live').length === 3`, undefined, { timeout: 15_000 });
  t.is(await page.locator('tr.node.live').count(), 3);

  // A queue draining: 24 jobs of 250 ms on 3 single-thread nodes.
  for (let i = 0; i < 24; i++) c.bc(nap, 250);
  await c.execute();
  const waiting = page.locator('tr.queue[data-queue="default"] .waiting');
  await page.waitForFunction(`Number(document.querySelector('tr.queue[data-queue="default"] .waiting')?.textContent ?? 0) > 0`, undefined, { timeout: 10_000 });
  const seenWaiting = Number(await waiting.textContent());
  t.true(seenWaiting > 0, `jobs seen waiting: ${seenWaiting}`);
  await shot(page, 'queue-draining');
  await page.waitForFunction(`document.querySelector('tr.queue[data-queue="default"] .waiting')?.textContent === '0'`, undefined, { timeout: 20_000 });
  t.is((await c.br()).length, 24);

  // A failed job: click it, its remote stack and output tail show.
  c.bc(failing, 7);
  const [failedId] = await c.execute();
  await t.throwsAsync(c.br(), { instanceOf: RemoteError });
  const row = page.locator(`tr.failure[data-id="${failedId}"]`);
  await row.waitFor({ timeout: 10_000 });
  await row.click();
  const stack = page.locator('#failure-detail pre.stack');
  await stack.waitFor();
  t.regex(await stack.textContent() ?? '', /TypeError: dashboard boom 7\n\s+at failing/);
  t.regex(await page.locator('#failure-detail pre.output').textContent() ?? '', /working on 7 before failing/);
  await page.fill('#failure-search', 'no such failure text');
  await page.locator(`tr.failure[data-id="${failedId}"]`).waitFor({ state: 'detached' });
  await page.fill('#failure-search', 'dashboard boom');
  await page.locator(`tr.failure[data-id="${failedId}"]`).waitFor();
  await shot(page, 'failure');
  await page.locator('#failures').screenshot({ path: join(ARTIFACTS, 'dashboard-failure-panel.png') });

  // A data url with its holders, found through the glob box.
  const d = dr(Buffer.alloc(64 * 1024, 1));
  d.rpcUrl = nodes[0].url;
  await d.save({ url: 'dash/sample.bin' });
  await page.fill('#data-search', 'dash/*.bin');
  const dataRow = page.locator('tr.data-url[data-url="dash/sample.bin"] .holders');
  await dataRow.waitFor({ timeout: 10_000 });
  t.is(await dataRow.textContent(), 'd1');
  // A task on d2 reads it: d2 takes a copy from d1, a second holder, and bytes move d1 → d2.
  t.is(await c.callWith({ queue: 'default|d2', noRouteData: true }, readData, du('dash/sample.bin')), 64 * 1024);
  await page.waitForFunction(`/d1, d2|d2, d1/.test(document.querySelector('tr.data-url[data-url="dash/sample.bin"] .holders')?.textContent ?? '')`, undefined, { timeout: 10_000 });
  await page.waitForFunction(`[...document.querySelectorAll('#data .u-legend .u-label')].some((e) => e.textContent.includes('d1 → d2'))`, undefined, { timeout: 10_000 });
  // and keeps the bytes in its memory tier, shown next to what it holds on disk.
  await page.waitForFunction(`document.querySelector('tr.node[data-node="d2"] td.memory')?.textContent === '1 url(s), 64.0 KiB'`, undefined, { timeout: 10_000 });
  await shot(page, 'overview');

  // A SIGKILLed node turns dead within 5 s.
  const killedAt = Date.now();
  process.kill(nodes[2].pid, 'SIGKILL');
  await page.locator('tr.node.dead[data-node="d3"]').waitFor({ timeout: 5000 });
  const took = Date.now() - killedAt;
  t.true(took < 5000, `dead on the page after ${took} ms`);
  t.is(await page.locator('tr.node.live').count(), 2);
  await shot(page, 'dead-node');
  t.deepEqual(errors, [], 'no script errors on the page');
});

test.serial('with --token the page refuses until given the token, keeps it out of urls, and then shows the cluster', async (t) => {
  for (const route of ['ui/api/snapshot', 'ui/api/stream', 'ui/api/node', 'ui/api/data?glob=**', 'rpc/jobs', 'rpc/job/x']) {
    t.is((await fetch(new URL(route, guarded.url))).status, 401, `${route} needs the token`);
  }
  t.is((await fetch(new URL('ui/', guarded.url))).status, 200, 'the page itself does not');
  const page = await browser!.newPage();
  t.teardown(() => page.close());
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  await page.goto(`${guarded.url}ui/`);
  await page.locator('#token-form').waitFor({ timeout: 10_000 });
  t.is(await page.locator('#nodes').count(), 0, 'nothing of the cluster before the token');
  await shot(page, 'token');
  await page.fill('#token', 'wrong-token');
  await page.click('#token-form button');
  await page.locator('#token-error').waitFor();
  t.is(await page.locator('#nodes').count(), 0);
  await page.fill('#token', TOKEN);
  await page.click('#token-form button');
  await page.locator('tr.node.live[data-node="guarded"]').waitFor({ timeout: 10_000 });
  t.is(await page.evaluate(`sessionStorage.getItem('ks-token')`), TOKEN);
  // A reload asks no more: the token is kept for the tab.
  await page.reload();
  await page.locator('tr.node.live[data-node="guarded"]').waitFor({ timeout: 10_000 });
  t.false(urls.some((url) => url.includes(TOKEN)), 'the token never appears in a url');
  t.false(guarded.output().includes(TOKEN), 'nor in the node\'s log');
});

test.serial('the view-only token (--ui-token) opens the whole page: every request it makes answers 200', async (t) => {
  const page = await browser!.newPage();
  t.teardown(() => page.close());
  const refused: string[] = [];
  page.on('response', (response) => {
    if (response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  await page.goto(`${guarded.url}ui/`);
  await page.locator('#token-form').waitFor({ timeout: 10_000 });
  refused.length = 0; // the page's first read, without a token, is a 401 by design
  await page.fill('#token', VIEW_TOKEN);
  await page.click('#token-form button');
  await page.locator('tr.node.live[data-node="guarded"]').waitFor({ timeout: 10_000 });
  // Long enough for the failures (every 2 s) and catalog (every 3 s) reads to have run.
  await new Promise((r) => setTimeout(r, 3500));
  t.deepEqual(refused, [], 'no route the page reads refuses the view token');
  const viewer = new Client(guarded.url, { token: VIEW_TOKEN, output: 'silent' });
  t.teardown(() => viewer.close());
  viewer.bc(nap, 1);
  await t.throwsAsync(viewer.execute(), { message: /view-only token/ });
  t.false(guarded.output().includes(VIEW_TOKEN), 'the view token is not in the node\'s log');
});
