/**
 * Single-call latency of this build against another checkout's build, alternating (issue 12):
 * `node dist/benchmarks/latency-ab.js --other /path/to/other/worktree [--reps 5] [--calls 500]`.
 * Each repetition starts one node (2 worker threads, embedded Redis and NATS) of each build in
 * turn (the order alternates), warms it with 200 calls, then measures CALLS sequential queued
 * `c.call(noop, i)` and CALLS `callWith({ async: false })`, with each build's own Client; then
 * a plain fastify server + undici client round trip (two processes) as the floor. Prints p50
 * and p99 per repetition and the median ratio this/other with its spread.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort } from '../src/loopback-ports.js';
import { startChildServer } from './lib/child-server.js';
import { latenciesMs } from './lib/report.js';

const { values } = parseArgs({ options: { other: { type: 'string' }, reps: { type: 'string', default: '5' }, calls: { type: 'string', default: '500' } } });
const THIS_ROOT = new URL('../../', import.meta.url).pathname;

interface ClientLike {
  call(fn: (x: number) => number, x: number): Promise<unknown>;
  callWith(options: { async: boolean }, fn: (x: number) => number, x: number): Promise<unknown>;
  close(): Promise<void>;
}

async function startNode(root: string): Promise<{ url: string; stop(): Promise<void> }> {
  const datadir = mkdtempSync(join(tmpdir(), 'ks-ab-'));
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/ks.js'), 'start', '--datadir', datadir, '--node-port', String(port), '--num-workers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${out}`)), 30_000);
    const look = (d: Buffer) => {
      out += d.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.once('exit', (code) => reject(new Error(`node exited ${code}: ${out}`)));
  });
  return {
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(datadir, { recursive: true, force: true });
    },
  };
}

interface Sample { queuedP50: number; queuedP99: number; directP50: number; directP99: number }

async function measure(root: string, calls: number): Promise<Sample> {
  const { Client } = (await import(join(root, 'dist/index.js'))) as { Client: new (url: string, o: object) => ClientLike };
  const node = await startNode(root);
  const c = new Client(node.url, { output: 'silent' });
  const noop = (x: number) => x;
  try {
    for (let i = 0; i < 200; i++) await c.call(noop, i);
    const queued = await latenciesMs((i) => c.call(noop, i), calls, 0);
    const direct = await latenciesMs((i) => c.callWith({ async: false }, noop, i), calls, 50);
    return { queuedP50: queued.p50, queuedP99: queued.p99, directP50: direct.p50, directP99: direct.p99 };
  } finally {
    await c.close();
    await node.stop();
  }
}

async function plain(calls: number): Promise<number> {
  const server = await startChildServer(new URL('./lib/plain-fastify-server.js', import.meta.url).pathname, []);
  const pool = new Pool(server.listening);
  try {
    const one = async (i: number) => {
      const { body } = await pool.request({ path: '/call', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: i }) });
      await body.json();
    };
    return (await latenciesMs(one, calls, 200)).p50;
  } finally {
    await pool.close();
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f3 = (n: number) => n.toFixed(3);

async function main(): Promise<void> {
  if (!values.other) throw new Error('--other <worktree of the other build> is required');
  const reps = Number(values.reps);
  const calls = Number(values.calls);
  const builds = { this: THIS_ROOT, other: values.other };
  const samples: Record<'this' | 'other', Sample[]> = { this: [], other: [] };
  const plains: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const order: Array<'this' | 'other'> = rep % 2 === 0 ? ['other', 'this'] : ['this', 'other'];
    for (const which of order) {
      const s = await measure(builds[which], calls);
      samples[which].push(s);
      console.log(`rep ${rep + 1} ${which.padEnd(5)} queued p50 ${f3(s.queuedP50)} p99 ${f3(s.queuedP99)} | async:false p50 ${f3(s.directP50)} p99 ${f3(s.directP99)} ms`);
    }
    plains.push(await plain(calls));
    console.log(`rep ${rep + 1} plain fastify+undici p50 ${f3(plains[rep])} ms`);
  }
  for (const key of ['queuedP50', 'queuedP99', 'directP50', 'directP99'] as const) {
    const ratios = samples.this.map((s, i) => s[key] / samples.other[i][key]);
    console.log(`${key}: this ${f3(median(samples.this.map((s) => s[key])))} ms, other ${f3(median(samples.other.map((s) => s[key])))} ms; this/other median ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
  }
  console.log(`plain fastify+undici p50 median ${f3(median(plains))} ms (${f3(Math.min(...plains))}–${f3(Math.max(...plains))})`);
}

await main();
