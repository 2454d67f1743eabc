import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { KsError } from '../../src/errors.js';

export interface Received {
  size: number;
  sha256: string;
}

export interface ReceiveOptions {
  /** called with the bytes written so far; throws to stop the write (disk guard) */
  check?: (written: number) => void;
  /** the byte count the sender announced; a different count fails the write */
  expectedSize?: number;
  /** the sha256 the sender announced; a different hash fails the write */
  expectedSha256?: string;
  /** a second destination every chunk is also written to (the next node of a replication chain) */
  forward?: Writable;
}

/**
 * Streams `source` into a new file at `path` (created exclusively), hashing (sha256) and
 * counting as it goes, and fsyncs it. Nothing is held in memory beyond the stream buffers.
 * On failure the caller removes the file. The source is not destroyed on failure: an HTTP
 * request must stay open for the error answer (the caller destroys other sources).
 */
export async function receiveToFile(source: Readable, path: string, options: ReceiveOptions = {}): Promise<Received> {
  const meter = new Meter(options);
  const written = pipeline(meter, createWriteStream(path, { flags: 'wx' }));
  // A source that fails or closes early (a client gone mid-upload) fails the write.
  finished(source, { writable: false }).catch((error: Error) => meter.destroy(error));
  source.pipe(meter);
  try {
    await written;
  } finally {
    source.unpipe(meter);
  }
  meter.endForward();
  const received = { size: meter.size, sha256: meter.digest() };
  if (options.expectedSize !== undefined && received.size !== options.expectedSize) {
    throw new KsError('bad_request', `the upload ended after ${received.size} of the ${options.expectedSize} bytes announced`);
  }
  if (options.expectedSha256 !== undefined && received.sha256 !== options.expectedSha256.toLowerCase()) {
    throw new KsError('bad_request', `the data received has sha256 ${received.sha256}, not the ${options.expectedSha256} announced: it was corrupted on the way`);
  }
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return received;
}

/** sha256 of a whole file, streamed. */
export async function hashFile(source: Readable): Promise<Received> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Hashes, counts and checks each chunk on its way to the file; with `forward`, also writes it
 * to a second stream, waiting for that stream too (backpressure from both sides). A forward
 * stream that fails is dropped: the local copy goes on.
 */
class Meter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private forward?: Writable;
  forwardError?: Error;

  constructor(private readonly options: ReceiveOptions) {
    super({ highWaterMark: 1 << 20 });
    this.forward = options.forward;
    this.forward?.on('error', (error) => this.dropForward(error));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    try {
      this.options.check?.(this.size);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.hash.update(chunk);
    const forward = this.forward;
    if (!forward || forward.destroyed || forward.write(chunk)) {
      callback(null, chunk);
      return;
    }
    const resume = () => {
      forward.off('drain', resume);
      forward.off('close', resume);
      callback(null, chunk);
    };
    forward.on('drain', resume);
    forward.on('close', resume);
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  endForward(): void {
    if (this.forward && !this.forward.destroyed) this.forward.end();
  }

  private dropForward(error: Error): void {
    this.forwardError ??= error;
    this.forward = undefined;
  }
}
