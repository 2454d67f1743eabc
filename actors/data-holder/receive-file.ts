import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { KsError } from '../../src/errors.js';
import { HashingFileWriter } from '../../src/hashing-file-writer.js';

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
  const writer = new HashingFileWriter(path, { check: options.check, forward: options.forward, sync: true });
  // A source that fails or closes early (a client gone mid-upload) fails the write.
  finished(source, { writable: false }).catch((error: Error) => writer.destroy(error));
  source.pipe(writer);
  try {
    await finished(writer);
  } finally {
    source.unpipe(writer);
  }
  const received = { size: writer.size, sha256: writer.sha256 };
  if (options.expectedSize !== undefined && received.size !== options.expectedSize) {
    throw new KsError('bad_request', `the upload ended after ${received.size} of the ${options.expectedSize} bytes announced`);
  }
  if (options.expectedSha256 !== undefined && received.sha256 !== options.expectedSha256.toLowerCase()) {
    throw new KsError('bad_request', `the data received has sha256 ${received.sha256}, not the ${options.expectedSha256} announced: it was corrupted on the way`);
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
