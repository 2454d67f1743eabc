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
