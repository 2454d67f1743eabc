import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface HashingWriterOptions {
  /** called with the byte count so far before each write; throws to stop (the disk guard) */
  check?: (written: number) => void;
  /** called after each write with the byte count so far */
  onProgress?: (written: number) => void;
  /** a second destination every chunk also goes to, with its backpressure (a replication chain's next hop) */
  forward?: Writable;
  /** fsync the file before finishing */
  sync?: boolean;
}

/**
 * Writes a stream into a new file (opened exclusively), hashing (sha256) and counting it on
 * the way, in one stage: buffered chunks go to disk in one `writev`, which costs less than a
 * hashing Transform in front of an fs WriteStream. The file is closed (and with `sync`,
 * fsynced) before the stream finishes; a forward stream that fails is dropped, the file goes on.
 */
export class HashingFileWriter extends Writable {
  size = 0;
  private readonly hash = createHash('sha256');
  private handle?: FileHandle;
  private forward?: Writable;
  private digestHex?: string;

  constructor(private readonly path: string, private readonly options: HashingWriterOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    this.forward = options.forward;
    this.forward?.on('error', () => {
      this.forward = undefined;
    });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'wx').then((handle) => {
      this.handle = handle;
      callback();
    }, callback);
  }

  override _writev(entries: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeChunks(entries.map((e) => e.chunk), callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeChunks([chunk], callback);
  }

  private writeChunks(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.length;
    try {
      this.options.check?.(this.size + bytes);
    } catch (error) {
      callback(error as Error);
      return;
    }
    for (const chunk of chunks) this.hash.update(chunk);
    this.size += bytes;
    // Many small chunks (a slow sender) are joined first: writev takes at most IOV_MAX buffers.
    const disk = writeAll(this.handle!, chunks.length > 64 ? [Buffer.concat(chunks, bytes)] : chunks, bytes);
    Promise.all([disk, this.forwardChunks(chunks)]).then(() => {
      this.options.onProgress?.(this.size);
      callback();
    }, callback);
  }

  /** Resolves when the forward stream can take more (or is gone). */
  private forwardChunks(chunks: Buffer[]): Promise<void> | undefined {
    const forward = this.forward;
    if (!forward || forward.destroyed) return undefined;
    let full = false;
    for (const chunk of chunks) full = !forward.write(chunk) || full;
    if (!full) return undefined;
    return new Promise<void>((resolve) => {
      const resume = () => {
        forward.off('drain', resume);
        forward.off('close', resume);
        resolve();
      };
      forward.on('drain', resume);
      forward.on('close', resume);
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle!;
    this.handle = undefined;
    this.digestHex = this.hash.digest('hex');
    if (this.forward && !this.forward.destroyed) this.forward.end();
    (this.options.sync ? handle.sync() : Promise.resolve())
      .then(() => handle.close())
      .then(() => callback(), (error: Error) => {
        void handle.close().catch(() => undefined);
        callback(error);
      });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (error && this.forward && !this.forward.destroyed) this.forward.destroy(error);
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(() => callback(error), () => callback(error));
  }

  /** The sha256 (hex) of everything written; set once the stream finished. */
  get sha256(): string {
    if (this.digestHex === undefined) throw new Error('the file is not finished');
    return this.digestHex;
  }
}

/** Writes every byte of `chunks` (writev may write less than asked, e.g. near a full disk). */
async function writeAll(handle: FileHandle, chunks: Buffer[], bytes: number): Promise<void> {
  const { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten >= bytes) return;
  const rest = Buffer.concat(chunks, bytes).subarray(bytesWritten);
  let offset = 0;
  while (offset < rest.length) {
    const { bytesWritten: wrote } = await handle.write(rest, offset);
    if (wrote === 0) throw new Error('the disk took no more bytes');
    offset += wrote;
  }
}
