import { decode, encode } from '../../../src/codec.js';
import { batchTime } from '../../../src/ids.js';
import type { JobHistoryEntry } from '../../../src/job-history.js';

/**
 * How a history entry is stored in `hist:data` (architecture §4). Most entries are jobs that
 * ended ok without printing anything: those are one short line of text (about 70 bytes
 * instead of about 170 of CBOR, and no encoder on the hot path), the rest CBOR.
 *
 * Compact: the byte 0x01 (never the first byte of a CBOR map), then fn, queue, node,
 * started, ended, separated by 0x1f. The id is the hash field; submitted follows from the id.
 */
const COMPACT = 0x01;
const SEP = '\x1f';

/** The fields of an entry the recorder knows without building the entry. */
export interface EntryFields {
  id: string;
  fn: string;
  queue: string;
  node: string;
  started: number;
  ended: number;
}

/** The compact form of an ok job that printed nothing, or undefined when a name holds the separator. */
export function compactEntry(fields: EntryFields): string | undefined {
  const { fn, queue, node } = fields;
  if (fn.includes(SEP) || queue.includes(SEP) || node.includes(SEP)) return undefined;
  return `\x01${fn}${SEP}${queue}${SEP}${node}${SEP}${fields.started}${SEP}${fields.ended}`;
}

export function fullEntry(entry: JobHistoryEntry): Uint8Array {
  return encode(entry);
}

/** Reads a stored entry of job `id` (either form); `submitted` is read from the id. */
export function decodeEntry(id: string, bytes: Buffer): JobHistoryEntry {
  if (bytes[0] !== COMPACT) return decode<JobHistoryEntry>(bytes);
  const [fn, queue, node, started, ended] = bytes.toString('utf8', 1).split(SEP);
  const endedAt = Number(ended);
  return {
    id,
    fn,
    queue,
    node,
    submitted: submitTime(id, endedAt),
    started: Number(started),
    ended: endedAt,
    outcome: 'ok',
    output: '',
    outputChars: 0,
  };
}

/** When a job was submitted: its batch's clock, read from its id (`fallback` if the id holds none). */
export function submitTime(id: string, fallback: number): number {
  const time = batchTime(id);
  return Number.isFinite(time) ? time : fallback;
}
