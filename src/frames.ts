import { encode, decode } from './codec.js';

/**
 * Event streams are length-prefixed CBOR frames: a 4-byte big-endian length, then the
 * frame. Each frame holds an array of events, so many small events cost one write.
 */
export function encodeFrame(value: unknown): Buffer {
  const body = encode(value);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

export class FrameReader<T> {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Feeds a chunk and returns every frame it completed. */
  push(chunk: Uint8Array): T[] {
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.byteLength;
    const frames: T[] = [];
    if (this.pendingBytes < 4) return frames;
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let offset = 0;
    while (buf.length - offset >= 4) {
      const len = buf.readUInt32BE(offset);
      if (buf.length - offset - 4 < len) break;
      frames.push(decode<T>(buf.subarray(offset + 4, offset + 4 + len)));
      offset += 4 + len;
    }
    buf = buf.subarray(offset);
    this.pending = buf.length ? [buf] : [];
    this.pendingBytes = buf.length;
    return frames;
  }

  get leftover(): number {
    return this.pendingBytes;
  }
}
