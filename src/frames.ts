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
  /** length of the frame being waited for, once its header has arrived */
  private needed = -1;

  /** Feeds a chunk and returns every frame it completed. Bytes are joined once per frame, not once per chunk. */
  push(chunk: Uint8Array): T[] {
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.byteLength;
    const frames: T[] = [];
    for (;;) {
      if (this.needed < 0) {
        if (this.pendingBytes < 4) break;
        this.needed = this.take(4).readUInt32BE(0);
      }
      if (this.pendingBytes < this.needed) break;
      frames.push(decode<T>(this.take(this.needed)));
      this.needed = -1;
    }
    return frames;
  }

  get leftover(): number {
    return this.pendingBytes + (this.needed >= 0 ? 4 : 0);
  }

  /** Removes and returns the first `n` pending bytes (n <= pendingBytes). */
  private take(n: number): Buffer {
    const first = this.pending[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const head = this.pending[0];
        const part = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, part);
        filled += part;
        if (part === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(part);
      }
    }
    this.pendingBytes -= n;
    return out;
  }
}
