import { randomBytes } from 'node:crypto';
import { Worker, type Job } from 'bullmq';

/**
 * One BullMQ worker process (the driver starts two): `node bullmq-worker.js <redisPort> <queue> <concurrency>`.
 * Job names: noop (returns data.x), mb (returns a 1 MiB string: base64 of random bytes, since
 * BullMQ results are JSON), print (data.n lines, each reported with job.updateProgress).
 */
const [port, queueName, concurrency] = process.argv.slice(2);

async function processor(job: Job): Promise<unknown> {
  switch (job.name) {
    case 'noop':
      return job.data.x;
    case 'mb':
      return randomBytes((job.data.size / 4) * 3).toString('base64');
    case 'print':
      for (let i = 0; i < job.data.n; i++) await job.updateProgress({ line: `line ${i}` });
      return job.data.n;
    default:
      throw new Error(`unknown job ${job.name}`);
  }
}

const worker = new Worker(queueName, processor, {
  connection: { host: '127.0.0.1', port: Number(port) },
  concurrency: Number(concurrency),
});
worker.on('error', (error) => console.error('bullmq worker:', error));
await worker.waitUntilReady();
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
