import { Encoder, addExtension } from 'cbor-x';
import { KsError } from './errors.js';

/**
 * The one CBOR configuration every process uses. `structuredClone` makes Map, Set, Date,
 * typed arrays, BigInt and `undefined` round-trip exactly; records are off so that bytes
 * written by one process decode in any other without shared structure state.
 */
const encoder = new Encoder({
  structuredClone: true,
  useRecords: false,
  tagUint8Array: true,
  int64AsType: 'bigint',
} as ConstructorParameters<typeof Encoder>[0]);

/** Throws a TypeError that says what cannot be sent (cbor-x alone says only "Unknown type: function"). */
export function encode(value: unknown): Uint8Array {
  try {
    return encoder.encode(value);
  } catch (error) {
    // Errors our own extensions throw (an unsaved RemoteData) already say what to do.
    if (error instanceof KsError) throw error;
    throw new TypeError(`cannot send this value as CBOR: ${(error as Error).message} (functions and symbols do not cross the wire: send data, and ship functions as the called function)`, { cause: error });
  }
}

/**
 * The CBOR of a large Buffer (the common large result: file contents, random bytes) in a
 * buffer of its own, of exactly its size, so it can be transferred to another thread with
 * one copy (through cbor-x's shared buffer it would take two); undefined for any other value.
 * The bytes are what `encode` writes: a byte string, untagged.
 */
export function encodeLargeBuffer(value: unknown): Uint8Array | undefined {
  if (Buffer.isBuffer(value) && value.byteLength >= LARGE_BUFFER_BYTES) {
    const n = value.byteLength;
    const head = n < 0x10000 ? 3 : n < 2 ** 32 ? 5 : 9;
    const out = new Uint8Array(head + n);
    const view = new DataView(out.buffer);
    if (head === 3) {
      out[0] = 0x59;
      view.setUint16(1, n);
    } else if (head === 5) {
      out[0] = 0x5a;
      view.setUint32(1, n);
    } else {
      out[0] = 0x5b;
      view.setBigUint64(1, BigInt(n));
    }
    out.set(value, head);
    return out;
  }
  return undefined;
}

const LARGE_BUFFER_BYTES = 4096;

/**
 * cbor-x returns byte strings as views of its input, so their type follows the input's: a
 * Buffer decoded from a plain Uint8Array (bytes that crossed a MessagePort or were nested in
 * another CBOR value) would arrive as a Uint8Array. Decoding from a Buffer view keeps them
 * Buffers; Uint8Arrays are tagged and stay Uint8Arrays.
 */
export function decode<T = unknown>(bytes: Uint8Array): T {
  const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoder.decode(source) as T;
}

/** Registers a class as a CBOR tag (used by RemoteData so references survive any hop). */
export function registerClass<T, E>(spec: {
  Class: new (...args: never[]) => T;
  tag: number;
  toWire: (value: T) => E;
  fromWire: (wire: E) => T;
}): void {
  addExtension({
    Class: spec.Class as never,
    tag: spec.tag,
    encode(value: T, encodeNested: (v: unknown) => Uint8Array) {
      return encodeNested(spec.toWire(value));
    },
    decode(wire: E) {
      return spec.fromWire(wire);
    },
  } as never);
}
