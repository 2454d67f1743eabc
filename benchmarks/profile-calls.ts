import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Client } from '../index.js';
import { startChildServer } from './lib/child-server.js';
import { startKsNode } from './lib/ks-node.js';
import { latenciesMs } from './lib/report.js';

/**
 * `npm run bench:profile-calls`: where a node's main thread spends its time on single queued
 * calls (the peers benchmark's workload (b)). Starts one node (2 worker threads) under
 * `node --cpu-prof`, makes CALLS sequential `c.call(noop, i)`, stops the node, and prints the
 * main thread's self time during those calls grouped by area, from the .cpuprofile. Then, as a
 * floor, the round-trip p50 of a plain fastify server and undici client in two processes.
 * Options: --calls N (default 3000).
 */
const CALLS = Number(process.argv[process.argv.indexOf('--calls') + 1]) || 3000;
const WARMUP = 200;
const SAMPLING_US = 200;
const TOP_FUNCTIONS = 15;

/** V8's profile clock is CLOCK_MONOTONIC in µs, as is process.hrtime: the window of the calls. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-profile-'));
  try {
    const node = await startKsNode(['--num-workers', '2'], {}, {
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${SAMPLING_US}`],
    });
    const c = new Client(node.url);
    const noop = (x: number) => x;
    let window: [number, number];
    let ks: { p50: number; p99: number };
    try {
      for (let i = 0; i < WARMUP; i++) await c.call(noop, -1 - i);
      const from = monotonicUs();
      ks = await latenciesMs(async (i) => {
        if ((await c.call(noop, i)) !== i) throw new Error('wrong result');
      }, CALLS, 0);
      window = [from, monotonicUs()];
    } finally {
      await c.close();
      await node.stop();
    }
    const main = readdirSync(dir).find((f) => f.includes(`.${node.pid}.0.`) && f.endsWith('.cpuprofile'));
    if (!main) throw new Error(`no main-thread profile of pid ${node.pid} in ${dir}: ${readdirSync(dir).join(', ')}`);
    const { areas, functions } = selfTimeByArea(JSON.parse(readFileSync(join(dir, main), 'utf8')) as CpuProfile, window);
    const busy = areas.filter((a) => a.area !== '(idle)').reduce((sum, a) => sum + a.us, 0);
    console.log(`kitchensink: ${CALLS} sequential queued calls (c.call), node under --cpu-prof (sampling every ${SAMPLING_US} µs):`);
    console.log(`  p50 ${ks.p50.toFixed(3)} ms, p99 ${ks.p99.toFixed(3)} ms (profiling adds to both)`);
    console.log(`  node main thread busy ${(busy / 1000).toFixed(0)} ms of ${((window[1] - window[0]) / 1000).toFixed(0)} ms: ${(busy / CALLS).toFixed(0)} µs per call`);
    console.table(
      areas
        .filter((a) => a.area !== '(idle)')
        .map((a) => ({ area: a.area, 'ms': +(a.us / 1000).toFixed(1), 'µs per call': +(a.us / CALLS).toFixed(1), '% of busy': +((100 * a.us) / busy).toFixed(1) })),
    );
    console.log(`the ${TOP_FUNCTIONS} functions with the most self time (area · function file):`);
    for (const f of functions) console.log(`  ${((100 * f.us) / busy).toFixed(1).padStart(5)}%  ${f.area}`);
    const plain = await plainRoundTrip();
    console.log(`plain fastify server + undici client, two processes, ${CALLS} sequential POSTs: p50 ${plain.p50.toFixed(3)} ms, p99 ${plain.p99.toFixed(3)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

type Frame = CpuProfile['nodes'][number]['callFrame'];

/** The library or area a frame belongs to, or undefined for Node's internals and natives. */
function libraryOf({ url }: Frame): string | undefined {
  if (/\/node_modules\/(ioredis|@ioredis|redis-parser|redis-errors|denque|cluster-key-slot)\//.test(url)) return 'ioredis';
  if (/\/node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify|fast-querystring|process-warning|pino|abstract-logging)\//.test(url)) return 'HTTP';
  if (/^node:_http_|^node:http$/.test(url)) return 'HTTP';
  if (/\/node_modules\/undici\//.test(url)) return 'HTTP';
  if (/\/node_modules\/piscina\//.test(url)) return 'piscina';
  if (/\/node_modules\/zod\//.test(url)) return 'zod';
  if (/\/node_modules\/cbor-x\//.test(url)) return 'cbor-x';
  if (/\/node_modules\/nats\//.test(url)) return 'NATS';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `other: ${pkg[1]}`;
  if (url.startsWith('file://') || url.startsWith('/')) return 'kitchensink';
  return undefined;
}

/** Node's socket write path (net, stream_base_commons, the native writes). */
function isSocketWrite({ functionName, url }: Frame): boolean {
  return url === 'node:net' || url === 'node:internal/stream_base_commons' || /^(writev|writeBuffer|write\w*String)$/.test(functionName);
}

/**
 * Self time of the samples inside `window` (µs, monotonic), each attributed to the first
 * library on its stack (Node internals and natives count for the library that called them);
 * socket writes under ioredis and under HTTP, and postMessage under piscina, are areas of their own.
 */
function selfTimeByArea(profile: CpuProfile, [from, to]: [number, number]): Record<'areas' | 'functions', Array<{ area: string; us: number }>> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const areaOf = new Map<number, string>();
  const classify = (id: number): string => {
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === '(idle)') return '(idle)';
    if (leaf.functionName === '(garbage collector)') return 'GC';
    if (leaf.functionName === '(program)') return 'V8 and Node natives (program)';
    let writes = false;
    let postMessage = false;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      writes ||= isSocketWrite(frame);
      postMessage ||= frame.functionName === 'postMessage';
      const library = libraryOf(frame);
      if (library === undefined) continue;
      // kitchensink's Store corks the Redis socket and uncorks it on the next tick (src/store/)
      if (writes && (library === 'ioredis' || /\/src\/store\//.test(frame.url))) return 'Redis socket writes';
      if (writes) return `${library} socket writes`;
      if (postMessage && (library === 'piscina' || library === 'kitchensink')) return `${library} postMessage`;
      return library;
    }
    return 'other: Node internals';
  };
  const totals = new Map<string, number>();
  const functions = new Map<string, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    if (t < from || t > to) return;
    // a sample stands for the time until the next one
    const us = profile.timeDeltas[i + 1] ?? SAMPLING_US;
    let area = areaOf.get(id);
    if (area === undefined) areaOf.set(id, (area = classify(id)));
    totals.set(area, (totals.get(area) ?? 0) + us);
    if (area !== '(idle)') {
      const { functionName, url } = byId.get(id)!.callFrame;
      const where = `${area} · ${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist)\//, '')}`;
      functions.set(where, (functions.get(where) ?? 0) + us);
    }
  });
  if (totals.size === 0) throw new Error('no samples in the window of the calls: are the clocks the same?');
  const sorted = (m: Map<string, number>) => [...m].map(([area, us]) => ({ area, us })).sort((a, b) => b.us - a.us);
  return { areas: sorted(totals), functions: sorted(functions).slice(0, TOP_FUNCTIONS) };
}

/** The same number of sequential round trips between a plain fastify server and an undici client. */
async function plainRoundTrip(): Promise<{ p50: number; p99: number }> {
  const server = await startChildServer(new URL('./lib/plain-fastify-server.js', import.meta.url).pathname, []);
  const pool = new Pool(server.listening);
  try {
    const one = async (i: number) => {
      const { body } = await pool.request({ path: '/call', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: i }) });
      if ((await body.json() as { x: number }).x !== i) throw new Error('wrong answer');
    };
    return await latenciesMs(one, CALLS, WARMUP);
  } finally {
    await pool.close();
    await server.stop();
  }
}

await main();
