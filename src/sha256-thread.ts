import { Worker } from 'node:worker_threads';

/**
 * sha256 of a stream computed on a helper thread, so hashing (about 1.7 GB/s on one core)
 * runs beside receiving and writing instead of after each chunk. Chunks are copied into
 * 1 MiB batches whose buffers are transferred to the thread (one copy, no cloning), and at
 * most `MAX_IN_FLIGHT` bytes wait there: `update` returns a promise when the caller must wait.
 */
const BATCH = 1 << 20;
const MAX_IN_FLIGHT = 16 * BATCH;

const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let hash = hashes.get(m.id);
  if (!hash) { hash = createHash('sha256'); hashes.set(m.id, hash); }
  if (m.chunk) {
    hash.update(new Uint8Array(m.chunk));
    parentPort.postMessage({ id: m.id, ack: m.chunk.byteLength });
  } else if (m.end) {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: hash.digest('hex') });
  } else {
    hashes.delete(m.id);
  }
});
`;

interface Job {
  onAck(bytes: number): void;
  onDigest(hex: string): void;
  onFail(error: Error): void;
}

let thread: Worker | undefined;
const jobs = new Map<number, Job>();
let nextId = 1;
/** Messages whose answer is awaited: the thread keeps the process alive only while there are some. */
let awaited = 0;

function hashThread(): Worker {
  if (!thread) {
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.on('message', (m: { id: number; ack?: number; digest?: string }) => {
      if (--awaited === 0) worker.unref();
      const job = jobs.get(m.id);
      if (!job) return;
      if (m.ack !== undefined) job.onAck(m.ack);
      if (m.digest !== undefined) job.onDigest(m.digest);
    });
    worker.on('error', (error) => {
      for (const job of jobs.values()) job.onFail(error);
      jobs.clear();
      awaited = 0;
      thread = undefined;
    });
    worker.unref();
    thread = worker;
  }
  return thread;
}

function post(message: unknown, transfer: ArrayBuffer[] = [], answered = true): void {
  const worker = hashThread();
  if (answered && awaited++ === 0) worker.ref();
  worker.postMessage(message, transfer);
}

export class ThreadedSha256 {
  private readonly id = nextId++;
  private batch = Buffer.allocUnsafe(BATCH);
  private filled = 0;
  private inFlight = 0;
  private waiting?: { resolve(): void; reject(error: Error): void };
  private digestPromise?: Promise<string>;
  private settleDigest?: { resolve(hex: string): void; reject(error: Error): void };
  private failure?: Error;

  constructor() {
    jobs.set(this.id, {
      onAck: (bytes) => {
        this.inFlight -= bytes;
        if (this.waiting && this.inFlight <= MAX_IN_FLIGHT / 2) {
          const { resolve } = this.waiting;
          this.waiting = undefined;
          resolve();
        }
      },
      onDigest: (hex) => {
        jobs.delete(this.id);
        this.settleDigest?.resolve(hex);
      },
      onFail: (error) => {
        this.failure = new Error(`the hashing thread failed: ${error.message}`);
        this.waiting?.reject(this.failure);
        this.waiting = undefined;
        this.settleDigest?.reject(this.failure);
      },
    });
  }

  /** Adds a chunk; when too much waits on the thread, returns a promise to await first. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(BATCH - this.filled, chunk.length - offset);
      this.batch.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === BATCH) this.send();
    }
    if (this.inFlight <= MAX_IN_FLIGHT) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** The hex digest of everything added. */
  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.digestPromise) {
      this.digestPromise = new Promise<string>((resolve, reject) => {
        this.settleDigest = { resolve, reject };
      });
      if (this.filled > 0) this.send();
      post({ id: this.id, end: true });
    }
    return this.digestPromise;
  }

  /** Drops an unfinished hash (the stream failed). */
  abort(): void {
    if (this.digestPromise) return;
    this.digestPromise = Promise.resolve('');
    jobs.delete(this.id);
    post({ id: this.id, abort: true }, [], false);
  }

  private send(): void {
    // A full batch owns its whole ArrayBuffer (allocUnsafe of 1 MiB is never pooled): moved, not copied.
    const whole = this.filled === BATCH && this.batch.byteOffset === 0 && this.batch.buffer.byteLength === BATCH;
    const buffer = whole ? this.batch.buffer : this.batch.buffer.slice(this.batch.byteOffset, this.batch.byteOffset + this.filled);
    this.inFlight += this.filled;
    post({ id: this.id, chunk: buffer }, [buffer]);
    this.batch = Buffer.allocUnsafe(BATCH);
    this.filled = 0;
  }
}
