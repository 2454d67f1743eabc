import test from 'ava';
import { PackedFields, packFields } from '../src/store/packed-fields.js';

/** What lua/includes/fieldReader.lua reads: 4-byte big-endian length, then the bytes. */
function unpack(bytes: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  for (let pos = 0; pos < bytes.length;) {
    const length = bytes.readUInt32BE(pos);
    fields.push(bytes.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  return fields;
}

test('fields round-trip: UTF-8 strings, bytes, empty fields, and a writer that grows many times', (t) => {
  const fields: (string | Uint8Array)[] = ['job-1', '', 'ünïcödé €𝄞', new Uint8Array([0, 1, 255]), new Uint8Array(0)];
  for (let i = 0; i < 2000; i++) fields.push(i % 2 ? `field ${i}` : new Uint8Array(i % 97).fill(i % 251));
  const writer = new PackedFields(16);
  for (const field of fields) writer.add(field);
  const expected = fields.map((f) => (typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f)));
  t.deepEqual(unpack(writer.bytes()), expected);
  t.deepEqual(unpack(packFields(fields)), expected);
});
