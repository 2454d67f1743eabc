import bytes from 'bytes';

/**
 * Parses a byte count: a plain number, or a number with a unit (`500MB`, `1GiB`, `1.5gb`).
 * Units are binary (1 KB = 1 KiB = 1024 bytes), as the `bytes` library reads them.
 */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]i?b|b)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: ${JSON.stringify(text)} (examples: 1073741824, 500MB, 1GiB)`);
  const unit = (match[2] ?? 'b').replace(/i/i, '');
  const value = bytes.parse(`${match[1]}${unit}`);
  if (value === null || !Number.isFinite(value)) throw new Error(`not a size: ${JSON.stringify(text)}`);
  return value;
}
