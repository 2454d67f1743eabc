import { registerClass } from './codec.js';

export type DataFormat = 'cbor' | 'json' | 'raw' | 'file';

/** CBOR tag for RemoteData references (private-use range). */
export const REMOTE_DATA_TAG = 40_501;

interface RemoteDataWire {
  url: string;
  fmt: DataFormat;
}

/**
 * A reference to data that lives on the cluster (DESIGN §6). It crosses the wire as a
 * small tagged CBOR value, never as the bytes.
 */
export class RemoteData {
  constructor(public dataUrl: string, public fmt: DataFormat = 'cbor') {}

  toString(): string {
    return `RemoteData(${this.dataUrl})`;
  }
}

registerClass<RemoteData, RemoteDataWire>({
  Class: RemoteData,
  tag: REMOTE_DATA_TAG,
  toWire: (value) => ({ url: value.dataUrl, fmt: value.fmt }),
  fromWire: (wire) => new RemoteData(wire.url, wire.fmt),
});

/** Data urls among a call's arguments: top level, and one level into arrays and plain objects. */
export function dataUrlsOf(args: readonly unknown[]): string[] {
  const urls = new Set<string>();
  const visit = (value: unknown, depth: number) => {
    if (value instanceof RemoteData) {
      urls.add(value.dataUrl);
    } else if (depth === 0 && Array.isArray(value)) {
      for (const item of value) visit(item, 1);
    } else if (depth === 0 && value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const item of Object.values(value)) visit(item, 1);
    }
  };
  for (const arg of args) visit(arg, 0);
  return [...urls];
}
