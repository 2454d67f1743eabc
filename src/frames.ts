import { Encoder } from 'cbor-x';
import { encode, decode } from './codec.js';
import type { JobEvent } from './protocol.js';

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

/**
 * Event frames hold plain values (ids, text, error objects, result bytes), so they are encoded
 * without structured-clone references: a frame can then be written in pieces (below). The
 * codec's decoder reads them like any other CBOR.
 */
const eventEncoder = new Encoder({ useRecords: false, tagUint8Array: true } as ConstructorParameters<typeof Encoder>[0]);

/** Results at least this large are written as their own part of a frame, never copied into it. */
export const SEPARATE_RESULT_BYTES = 64 * 1024;

/**
 * A frame of events as the parts to write, in order: the same CBOR as one encoded array, but
 * the bytes of each large result are written where they are, not copied into the frame. The
 * CBOR around such a result is written here: the event map `{ type: 'done', id, result }`
 * and the byte string's header, then the bytes themselves.
 */
export function encodeEventFrame(events: readonly JobEvent[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event.type !== 'done' || event.result.byteLength < SEPARATE_RESULT_BYTES) continue;
    if (i > start) parts.push(arrayItems(events.slice(start, i)));
    parts.push(doneEventHeader(event.id, event.result.byteLength), event.result);
    start = i + 1;
  }
  if (parts.length === 0) return [withLength(eventEncoder.encode(events))];
  if (start < events.length) parts.push(arrayItems(events.slice(start)));
  const head = cborHeader(4, events.length);
  let length = head.byteLength;
  for (const part of parts) length += part.byteLength;
  const prefix = Buffer.allocUnsafe(4 + head.byteLength);
  prefix.writeUInt32BE(length, 0);
  prefix.set(head, 4);
  return [prefix, ...parts];
}

function withLength(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** The encoded items of an array, without its header. */
function arrayItems(values: unknown[]): Uint8Array {
  const whole = eventEncoder.encode(values);
  return whole.subarray(cborHeader(4, values.length).byteLength);
}

function doneEventHeader(id: string, resultBytes: number): Buffer {
  return Buffer.concat([
    cborHeader(5, 3),
    cborText('type'), cborText('done'),
    cborText('id'), cborText(id),
    cborText('result'), cborHeader(2, resultBytes),
  ]);
}

function cborText(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([cborHeader(3, bytes.byteLength), bytes]);
}

/** The header of a CBOR data item of major type `major` with argument `n` (shortest form). */
function cborHeader(major: number, n: number): Buffer {
  const type = major << 5;
  if (n < 24) return Buffer.from([type | n]);
  if (n < 0x100) return Buffer.from([type | 24, n]);
  if (n < 0x10000) return Buffer.from([type | 25, n >> 8, n & 0xff]);
  const out = Buffer.allocUnsafe(5);
  out[0] = type | 26;
  out.writeUInt32BE(n, 1);
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
      // Index, then one splice: shifting chunk by chunk is quadratic in the chunks of a frame.
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      let used = 0;
      while (filled < n) {
        const head = this.pending[used];
        const part = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, part);
        filled += part;
        if (part === head.length) used++;
        else this.pending[used] = head.subarray(part);
      }
      this.pending.splice(0, used);
    }
    this.pendingBytes -= n;
    return out;
  }
}
