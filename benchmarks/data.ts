import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { Client, dp, du, dr } from '../index.js';
import { startChildServer } from './lib/child-server.js';
import { startKsNode } from './lib/ks-node.js';
import { report, type Row } from './lib/report.js';

/**
 * Data transfer (issue 3): upload and download of a 1 GiB file through kitchensink, next to a
 * plain Node http stream of the same file in the same run and to raw disk throughput; peak
 * RSS growth of the node. KS_BENCH_DATA_MB changes the size (default 1024).
 */
const MB = 1024 * 1024;
const sizeMb = Number(process.env.KS_BENCH_DATA_MB ?? 1024);
const size = sizeMb * MB;
const REPS = 3;
const dir = mkdtempSync(join(tmpdir(), 'ks-bench-data-'));
process.env.KS_DATA_CACHE = join(dir, 'cache');
const input = join(dir, 'input.bin');

const mbps = (bytes: number, ms: number) => +(bytes / MB / (ms / 1000)).toFixed(1);

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

async function best(run: (rep: number) => Promise<unknown>): Promise<number> {
  let fastest = Infinity;
  for (let rep = 0; rep < REPS; rep++) fastest = Math.min(fastest, await timed(() => run(rep)));
  return fastest;
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  await handle.sync();
  await handle.close();
}

/** Raw disk write: 1 MiB blocks of random-ish bytes (a random block, varied per block), then fsync. */
async function writeInput(): Promise<number> {
  const block = randomBytes(MB);
  return timed(async () => {
    const out = createWriteStream(input, { highWaterMark: 4 * MB });
    for (let i = 0; i < sizeMb; i++) {
      const chunk = Buffer.from(block);
      chunk.writeUInt32LE(i, 0);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await fsyncFile(input);
  });
}

const discard = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

/** CPU time (user + system, ms) a process has used: /proc/<pid>/stat, in clock ticks of 10 ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Sample {
  ms: number;
  /** CPU ms of the serving process, and of this (client) process */
  serverCpu: number;
  clientCpu: number;
}

/** Wall time and CPU time of both ends; CPU time says what a transfer costs even on a busy machine. */
async function sample(serverPid: number, run: () => Promise<unknown>): Promise<Sample> {
  const server0 = cpuMsOf(serverPid);
  const client0 = process.cpuUsage();
  const ms = await timed(run);
  const client = process.cpuUsage(client0);
  return { ms, serverCpu: cpuMsOf(serverPid) - server0, clientCpu: (client.user + client.system) / 1000 };
}

/** The fastest wall time and the smallest CPU times over the reps. */
function keepBest(best: Sample | undefined, next: Sample): Sample {
  if (!best) return next;
  return { ms: Math.min(best.ms, next.ms), serverCpu: Math.min(best.serverCpu, next.serverCpu), clientCpu: Math.min(best.clientCpu, next.clientCpu) };
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function startPlainServer(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const server = await startChildServer(new URL('./lib/plain-http-server.js', import.meta.url).pathname, [dir]);
  return { url: `http://127.0.0.1:${server.listening}/`, pid: server.pid, stop: server.stop };
}

const rows: Row[] = [];
const extra: Record<string, unknown> = { sizeMb, reps: REPS };
try {
  console.log(`generating ${sizeMb} MiB in ${dir}`);
  const writeMs = await writeInput();
  rows.push({ measure: 'raw disk write + fsync', 'MB/s': mbps(size, writeMs) });
  const readMs = await best(() => pipeline(createReadStream(input, { highWaterMark: MB }), discard()));
  rows.push({ measure: 'raw disk read (page cache warm)', 'MB/s': mbps(size, readMs) });

  // The baseline (plain Node http, streaming to / from disk) and kitchensink (dp().save(), and
  // localPath(): a verified download) run interleaved, rep by rep, so both see the same disk.
  const plain = await startPlainServer();
  const node = await startKsNode(['--num-workers', '1']);
  const c = new Client(node.url, { output: 'silent' });
  try {
    const warm = dr(Buffer.alloc(MB));
    warm.rpcUrl = node.url;
    await warm.save({ url: 'bench/warm-up' });
    const before = rssOf(node.pid);
    const plainDownloaded = join(dir, 'plain-download.bin');
    const times: Record<'plainUp' | 'ksUp' | 'plainDown' | 'ksDown', Sample | undefined> = { plainUp: undefined, ksUp: undefined, plainDown: undefined, ksDown: undefined };
    let url = '';
    for (let rep = 0; rep < REPS; rep++) {
      times.plainUp = keepBest(times.plainUp, await sample(plain.pid, async () => {
        const response = await request(new URL('upload', plain.url), { method: 'POST', body: createReadStream(input, { highWaterMark: MB }), headers: { 'content-length': String(size) } });
        await response.body.text();
      }));
      if (url) await c.deleteData(url);
      url = `bench/upload-${rep}`;
      const data = dp(input);
      data.rpcUrl = node.url;
      times.ksUp = keepBest(times.ksUp, await sample(node.pid, () => data.save({ url })));
    }
    // Downloads are not fsynced: each starts with both previous copies gone and the disk
    // flushed, so neither pays for the other's write-back.
    const settle = () => {
      rmSync(plainDownloaded, { force: true });
      rmSync(process.env.KS_DATA_CACHE!, { recursive: true, force: true });
      spawnSync('sync');
    };
    for (let rep = 0; rep < REPS; rep++) {
      settle();
      times.plainDown = keepBest(times.plainDown, await sample(plain.pid, async () => {
        const response = await request(new URL('download', plain.url));
        await pipeline(response.body, createWriteStream(plainDownloaded));
      }));
      settle();
      const ref = du(url);
      ref.rpcUrl = node.url;
      times.ksDown = keepBest(times.ksDown, await sample(node.pid, () => ref.localPath()));
    }
    const after = rssOf(node.pid);
    const { plainUp, ksUp, plainDown, ksDown } = times as Record<keyof typeof times, Sample>;
    const perGiB = (cpuMs: number) => +((cpuMs / 1000) * (1024 / sizeMb)).toFixed(2);
    const row = (measure: string, s: Sample, baseline: Sample): Row => ({
      measure,
      'MB/s': mbps(size, s.ms),
      'vs plain stream': `${Math.round((baseline.ms / s.ms) * 100)}%`,
      'server CPU s/GiB': perGiB(s.serverCpu),
      'client CPU s/GiB': perGiB(s.clientCpu),
    });
    rows.push(row('plain http upload (to disk, fsync)', plainUp, plainUp));
    rows.push(row('kitchensink upload (dp().save(): stream, sha256, fsync, catalog)', ksUp, plainUp));
    rows.push(row('plain http download (to a file)', plainDown, plainDown));
    rows.push(row('kitchensink download (localPath(): stream, sha256 check, to a file)', ksDown, plainDown));
    const growth = after.hwm - before.rss;
    rows.push({ measure: 'node peak RSS growth during the transfers (MB)', 'MB/s': +(growth / MB).toFixed(1) });
    Object.assign(extra, {
      nodeRssBeforeMb: +(before.rss / MB).toFixed(1),
      nodePeakRssMb: +(after.hwm / MB).toFixed(1),
      uploadRatio: +(plainUp.ms / ksUp.ms).toFixed(3),
      downloadRatio: +(plainDown.ms / ksDown.ms).toFixed(3),
      loadAverage: loadavg().map((l) => +l.toFixed(2)),
    });
  } finally {
    await c.close();
    await node.stop();
    await plain.stop();
  }
  report('data', rows, extra);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
