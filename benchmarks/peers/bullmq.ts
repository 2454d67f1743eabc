import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { startRedisServer, type RedisServerProcess } from '../lib/redis-server.js';
import { LastLineWatch, latenciesMs, serveDriver } from './protocol.js';

/**
 * BullMQ: its own redis-server, 2 worker processes (bullmq-worker.ts) with concurrency 100 each,
 * Queue.addBulk for bulks, results observed by the producer through QueueEvents 'completed'
 * (returnvalue carried by the event), Queue.add + job.waitUntilFinished(queueEvents) for a round
 * trip, job.updateProgress per line + QueueEvents 'progress' for output.
 */
const WORKERS = 2;
const CONCURRENCY = 100;
const QUEUE = 'bench';
const WORKER_JS = new URL('./bullmq-worker.js', import.meta.url).pathname;

let redis: RedisServerProcess | undefined;
let queue: Queue | undefined;
let events: QueueEvents | undefined;
const workers: ChildProcess[] = [];
let run = 0;

function startWorker(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER_JS, String(port), QUEUE, String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'inherit'] });
  workers.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`bullmq worker exited with ${code}`)));
  });
}

/** addBulk, then wait for a 'completed' event for every job (custom job ids, known before adding). */
async function bulk(name: string, data: (i: number) => object, n: number, opts: JobsOptions = {}): Promise<{ seconds: number; results: unknown[] }> {
  const prefix = `r${run++}-`;
  const results: unknown[] = new Array(n);
  let left = n;
  let onCompleted!: (args: { jobId: string; returnvalue: unknown }) => void;
  let onFailed!: (args: { jobId: string; failedReason: string }) => void;
  const done = new Promise<void>((resolve, reject) => {
    onCompleted = ({ jobId, returnvalue }) => {
      if (!jobId.startsWith(prefix)) return;
      results[Number(jobId.slice(prefix.length))] = returnvalue;
      if (--left === 0) resolve();
    };
    onFailed = ({ jobId, failedReason }) => {
      if (jobId.startsWith(prefix)) reject(new Error(`job ${jobId} failed: ${failedReason}`));
    };
  });
  events!.on('completed', onCompleted);
  events!.on('failed', onFailed);
  try {
    const t0 = performance.now();
    await queue!.addBulk(Array.from({ length: n }, (_, i) => ({ name, data: data(i), opts: { ...opts, jobId: `${prefix}${i}` } })));
    await done;
    return { seconds: (performance.now() - t0) / 1000, results };
  } finally {
    events!.off('completed', onCompleted);
    events!.off('failed', onFailed);
    await queue!.trimEvents(0); // the events stream carried every result; not part of the measurement
  }
}

async function noopBulk({ n }: Record<string, number>) {
  const { seconds, results } = await bulk('noop', (i) => ({ x: i }), n);
  if (results[n - 1] !== n - 1) throw new Error('wrong results');
  return { seconds };
}

async function mbBulk({ n, size }: Record<string, number>) {
  // removeOnComplete: the result reaches the producer in the 'completed' event; keeping 1 MB jobs would fill Redis
  const { seconds, results } = await bulk('mb', () => ({ size }), n, { removeOnComplete: true });
  if (results.some((r) => (r as string).length !== size)) throw new Error('wrong results');
  return { seconds };
}

async function roundtrip({ n }: Record<string, number>) {
  return latenciesMs(async (i) => {
    const job = await queue!.add('noop', { x: i });
    if ((await job.waitUntilFinished(events!)) !== i) throw new Error('wrong result');
  }, n);
}

async function printLines({ n }: Record<string, number>) {
  const watch = new LastLineWatch(`line ${n - 1}`);
  let jobId = '';
  let lines = 0;
  const onProgress = ({ jobId: id, data }: { jobId: string; data: unknown }) => {
    if (id !== jobId) return;
    lines++;
    watch.write(`${(data as { line: string }).line}\n`);
  };
  events!.on('progress', onProgress);
  try {
    jobId = `print-${run++}`;
    const t0 = performance.now();
    const job = await queue!.add('print', { n }, { jobId });
    await job.waitUntilFinished(events!);
    await Promise.race([watch.seen, new Promise((_, reject) => setTimeout(() => reject(new Error('the last line did not arrive')), 10_000).unref())]);
    if (lines !== n) throw new Error(`saw ${lines} of ${n} lines`);
    return { ms: watch.at! - t0 };
  } finally {
    events!.off('progress', onProgress);
  }
}

await serveDriver(
  async () => {
    redis = await startRedisServer();
    const connection = { host: '127.0.0.1', port: redis.port };
    queue = new Queue(QUEUE, {
      connection,
      // a 20,000-job bulk emits 40,000+ events; the default stream length (10,000) could drop
      // 'completed' events before the producer reads them
      streams: { events: { maxLen: 100_000 } },
      defaultJobOptions: { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } },
    });
    events = new QueueEvents(QUEUE, { connection });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    for (let i = 0; i < WORKERS; i++) await startWorker(redis.port);
    await noopBulk({ n: 2000 });
    const require = createRequire(import.meta.url);
    const { version } = require('bullmq/package.json') as { version: string };
    return { version, pids: [redis.pid, ...workers.map((w) => w.pid!)] };
  },
  {
    noop_bulk: noopBulk,
    noop_chunked: async () => ({ na: 'BullMQ documents no chunking: addBulk adds one job per item' }),
    roundtrip,
    mb_bulk: mbBulk,
    print_lines: printLines,
  },
  async () => {
    await events?.close();
    await queue?.close();
    await Promise.all(
      workers.map(async (w) => {
        if (w.exitCode !== null || w.signalCode !== null) return;
        const exited = new Promise((r) => w.once('exit', r));
        w.kill('SIGTERM');
        await exited;
      }),
    );
    await redis?.stop();
  },
);
