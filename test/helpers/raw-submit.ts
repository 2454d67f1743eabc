/**
 * Submits and collects over the raw HTTP API (what a client sends), so tests can send a
 * `submitId` and resend it to any node, and count every outcome event a node delivers.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { Transport } from '../../src/client/transport.js';
import { decode, encode } from '../../src/codec.js';
import type { BulkCallRequest, JobEvent } from '../../src/protocol.js';

/** A shipped task with a side effect: appends its job id to `<dir>/runs`, sleeps `ms`, returns its id. */
export const recordRun = async (dir: string, ms: number) => {
  const { appendFileSync: append } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const id = taskContext().jobId;
  append(`${dir}/runs`, `${id}\n`);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return id;
};

/** How many times each job id ran, from `<dir>/runs`. */
export function runsIn(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(`${dir}/runs`, 'utf8');
  } catch {
    return counts;
  }
  for (const id of text.split('\n')) if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

export function touchRuns(dir: string): void {
  appendFileSync(`${dir}/runs`, '');
}

/** A bulkcall body of `count` calls of recordRun. */
export function recordRunBody(dir: string, count: number, options: { ms?: number; submitId?: string; padding?: number; queue?: string } = {}): BulkCallRequest {
  const source = Function.prototype.toString.call(recordRun);
  const sha = createHash('sha256').update(source).digest('hex');
  const pad = options.padding ? 'x'.repeat(options.padding) : undefined;
  const calls = Array.from({ length: count }, () => ({
    fn: sha,
    args: encode(pad === undefined ? [dir, options.ms ?? 0] : [dir, options.ms ?? 0, pad]),
    ...(options.queue ? { queue: options.queue } : {}),
  }));
  return { fns: { [sha]: { name: 'recordRun', source } }, calls, ...(options.submitId ? { submitId: options.submitId } : {}) };
}

/** The token and CA of a cluster with --token and TLS. */
export interface Auth {
  token?: string;
  ca?: string;
}

export interface Submitted {
  batch: string;
  ids: string[];
}

/** POSTs /rpc/bulkcall; with `timeoutMs`, gives up waiting for the answer after that long (as a client with a timeout would). */
export async function bulkcall(url: string, body: BulkCallRequest, timeoutMs?: number, auth: Auth = {}): Promise<Submitted> {
  const transport = new Transport(url, auth.token, { ca: auth.ca });
  try {
    if (timeoutMs === undefined) return await transport.requestCbor<Submitted>('POST', 'rpc/bulkcall', body);
    const response = await transport.requestRaw('POST', 'rpc/bulkcall', {
      body: Buffer.from(encode(body)),
      headers: { 'content-type': 'application/cbor' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return decode<Submitted>(Buffer.from(await response.body.arrayBuffer()));
  } finally {
    await transport.close();
  }
}

/** Streams a batch's outcomes from `url` (bulkstatus) and counts the outcome events per id. */
export async function collect(url: string, submitted: Submitted, auth: Auth = {}): Promise<{ outcomes: Map<string, number>; failed: JobEvent[] }> {
  const transport = new Transport(url, auth.token, { ca: auth.ca });
  const outcomes = new Map<string, number>();
  const failed: JobEvent[] = [];
  try {
    for await (const frame of transport.stream<JobEvent[]>('rpc/bulkstatus', submitted)) {
      for (const event of frame) {
        if (event.type === 'output') continue;
        outcomes.set(event.id, (outcomes.get(event.id) ?? 0) + 1);
        if (event.type === 'failed') failed.push(event);
      }
    }
  } finally {
    await transport.close();
  }
  return { outcomes, failed };
}
