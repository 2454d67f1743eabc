/**
 * Packs fields for the Lua scripts' `fieldReader` (lua/includes/fieldReader.lua): each field
 * is a 4-byte big-endian length followed by its bytes. Strings are UTF-8.
 */
export function packFields(fields: readonly (string | Uint8Array)[]): Buffer {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const field of fields) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(bytes.byteLength, 0);
    parts.push(header, bytes);
    total += 4 + bytes.byteLength;
  }
  return Buffer.concat(parts, total);
}
