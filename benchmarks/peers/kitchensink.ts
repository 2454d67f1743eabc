import { Client } from '../../index.js';
import { startKsNode, type KsNodeProcess } from '../lib/ks-node.js';
import { LastLineWatch, latenciesMs, serveDriver } from './protocol.js';

/**
 * kitchensink: one node with 2 worker threads and its embedded Redis and NATS
 * (benchmarks/lib/ks-node.ts); bc + execute + br for bulks, call() for a queued round trip
 * (callWith({ async: false }) as an extra row), the client's output handler for output,
 * map(fn, items, { chunkSize }) for the chunked bulk.
 * KS_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to the node process's
 * `node` for profiling.
 */
const noop = (x: number) => x;
const oneMb = async (size: number) => {
  const { randomBytes } = await import('node:crypto');
  return randomBytes(size);
};
const printLines = (n: number) => {
  for (let i = 0; i < n; i++) console.log(`line ${i}`);
  return n;
};

let node: KsNodeProcess | undefined;
let c: Client | undefined;
let watch: LastLineWatch | undefined;

async function bulk(fn: (x: number) => unknown, args: number[]): Promise<{ seconds: number; results: unknown[] }> {
  const t0 = performance.now();
  for (const x of args) c!.bc(fn, x);
  await c!.execute();
  const results = await c!.br();
  return { seconds: (performance.now() - t0) / 1000, results };
}

async function noops(n: number, run: (items: number[]) => Promise<unknown[]>) {
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const results = await run(items);
  const seconds = (performance.now() - t0) / 1000;
  if (results.length !== n || results[n - 1] !== n - 1) throw new Error('wrong results');
  return { seconds };
}

const noopBulk = ({ n }: Record<string, number>) => noops(n, async (items) => (await bulk(noop, items)).results);
const noopChunked = ({ n, chunk }: Record<string, number>) => noops(n, (items) => c!.map(noop, items, { chunkSize: chunk }));

async function mbBulk({ n, size }: Record<string, number>) {
  const { seconds, results } = await bulk(oneMb, Array.from({ length: n }, () => size));
  if (results.length !== n || results.some((r) => (r as Uint8Array).length !== size)) throw new Error('wrong results');
  return { seconds };
}

function roundtrip(options: { async?: boolean }) {
  return ({ n }: Record<string, number>) =>
    latenciesMs(async (i) => {
      if ((await c!.callWith(options, noop, i)) !== i) throw new Error('wrong result');
    }, n);
}

async function printLinesWorkload({ n }: Record<string, number>) {
  watch = new LastLineWatch(`line ${n - 1}`);
  const t0 = performance.now();
  const result = await c!.call(printLines, n);
  await Promise.race([watch.seen, new Promise((_, reject) => setTimeout(() => reject(new Error('the last line did not arrive')), 10_000).unref())]);
  if (result !== n) throw new Error('wrong result');
  return { ms: watch.at! - t0 };
}

await serveDriver(
  async () => {
    const nodeArgs = process.env.KS_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    node = await startKsNode(['--num-workers', '2'], {}, { nodeArgs });
    c = new Client(node.url, { output: (e) => watch?.write(e.text) });
    await noopBulk({ n: 2000 });
    const { version } = await c.ping();
    return { version, pids: [node.pid] };
  },
  {
    noop_bulk: noopBulk,
    noop_chunked: noopChunked,
    roundtrip: roundtrip({}),
    roundtrip_direct: roundtrip({ async: false }),
    mb_bulk: mbBulk,
    print_lines: printLinesWorkload,
  },
  async () => {
    await c?.close();
    await node?.stop();
  },
);
