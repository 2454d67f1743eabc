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

/** CBOR tag of an Error value (a returned or nested error, not a thrown one). */
export const ERROR_TAG = 40_502;

interface ErrorWire {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  /** the error's own enumerable properties that are plain data (`code`, `errno`...) */
  props?: Record<string, unknown>;
}

const BUILTIN_ERRORS: Record<string, ErrorConstructor> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

// cbor-x alone sends an error as [name, message] and rebuilds every kind but Error and RegExp
// as a plain Error with a local stack: a returned TypeError would arrive as an Error that
// points at the decoder. This keeps the name, message, remote stack, cause and own fields.
registerClass<Error, ErrorWire>({
  Class: Error,
  tag: ERROR_TAG,
  toWire(error) {
    const wire: ErrorWire = { name: error.name, message: error.message };
    if (error.stack !== undefined) wire.stack = error.stack;
    if ('cause' in error && error.cause !== undefined && isPlainData(error.cause)) wire.cause = error.cause;
    // Errors often carry live objects (a request, a socket): only plain data goes along.
    const props = Object.entries(error).filter(([key, value]) => key !== 'cause' && isPlainData(value));
    if (props.length > 0) wire.props = Object.fromEntries(props);
    return wire;
  },
  fromWire(wire) {
    const Kind = Object.hasOwn(BUILTIN_ERRORS, wire.name) ? BUILTIN_ERRORS[wire.name] : Error;
    const error = new Kind(String(wire.message), wire.cause === undefined ? undefined : { cause: wire.cause });
    if (error.name !== wire.name) Object.defineProperty(error, 'name', { value: String(wire.name), writable: true, configurable: true });
    Object.defineProperty(error, 'stack', { value: wire.stack ?? `${wire.name}: ${wire.message}`, writable: true, configurable: true });
    if (wire.props) for (const [key, value] of Object.entries(wire.props)) if (!(key in error)) (error as unknown as Record<string, unknown>)[key] = value;
    return error;
  },
});

/** Primitives, and arrays, plain objects, Maps, Sets, Dates, typed arrays and errors made of them. */
function isPlainData(value: unknown, depth = 0): boolean {
  if (value === null || value === undefined) return true;
  const type = typeof value;
  if (type === 'function' || type === 'symbol') return false;
  if (type !== 'object') return true;
  if (depth > 8) return false;
  if (value instanceof Error || value instanceof Date || ArrayBuffer.isView(value)) return true;
  if (Array.isArray(value)) return value.every((item) => isPlainData(item, depth + 1));
  if (value instanceof Map) return [...value].every(([k, v]) => isPlainData(k, depth + 1) && isPlainData(v, depth + 1));
  if (value instanceof Set) return [...value].every((item) => isPlainData(item, depth + 1));
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.values(value).every((item) => isPlainData(item, depth + 1));
}
