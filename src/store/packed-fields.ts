/**
 * Packs fields for the Lua scripts' `fieldReader` (lua/includes/fieldReader.lua): each field
 * is a 4-byte big-endian length followed by its bytes. Strings are UTF-8. Everything is
 * written into one growing buffer: thousands of jobs cost a few allocations, not several each.
 */
export class PackedFields {
  private buffer: Buffer;
  private position = 0;

  constructor(sizeHint = 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, sizeHint));
  }

  add(field: string | Uint8Array): this {
    if (typeof field === 'string') {
      this.reserve(4 + 3 * field.length);
      const written = this.buffer.write(field, this.position + 4, 'utf8');
      this.buffer.writeUInt32BE(written, this.position);
      this.position += 4 + written;
    } else {
      this.reserve(4 + field.byteLength);
      this.buffer.writeUInt32BE(field.byteLength, this.position);
      this.buffer.set(field, this.position + 4);
      this.position += 4 + field.byteLength;
    }
    return this;
  }

  /** The packed bytes (a view of the writer's buffer). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.position);
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

export function packFields(fields: readonly (string | Uint8Array)[]): Buffer {
  const packed = new PackedFields(fields.length * 32);
  for (const field of fields) packed.add(field);
  return packed.bytes();
}
