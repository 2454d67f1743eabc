import { request } from 'undici';
import { decode, encode } from '../../src/codec.js';
import { FrameReader } from '../../src/frames.js';
import type { RemoteErrorInfo } from '../../src/errors.js';

/**
 * Follows the outcomes of one batch on the node's result stream (`POST /rpc/bulkstatus`, what
 * `br()` reads) and reports every event, so that each job's outcome is counted on its own
 * (`br()` stops at the first failure and cancels the rest). A stream that breaks is followed
 * again for the jobs still without an outcome, until every job has one or `signal` aborts.
 * Frames that are not arrays of job events (keep-alives of newer builds) are skipped.
 */
export interface CollectorEvents {
  onOutcome(id: string, failure: string | undefined, result: unknown): void;
  onStreamError(code: string): void;
}

type WireEvent = { type: string; id: string; result?: Uint8Array; error?: RemoteErrorInfo };

/** The batch id is the job ids' common prefix (`<batch>-<index>`). */
export function batchOf(ids: string[]): string {
  return ids[0].slice(0, ids[0].lastIndexOf('-'));
}

export async function collectBatch(url: string, ids: string[], events: CollectorEvents, signal: AbortSignal): Promise<void> {
  const waiting = new Set(ids);
  const batch = batchOf(ids);
  while (waiting.size > 0 && !signal.aborted) {
    try {
      const response = await request(new URL('rpc/bulkstatus', url), {
        method: 'POST',
        body: Buffer.from(encode({ batch, ids: [...waiting] })),
        headers: { 'content-type': 'application/cbor' },
        signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      if (response.statusCode >= 400) {
        const text = await response.body.text();
        let code = `http${response.statusCode}`;
        try {
          code = (JSON.parse(text) as { code?: string }).code ?? code;
        } catch {
          // not JSON
        }
        events.onStreamError(code);
      } else {
        const reader = new FrameReader<unknown>();
        for await (const chunk of response.body) {
          for (const frame of reader.push(chunk as Buffer)) {
            if (!Array.isArray(frame)) continue;
            for (const event of frame as WireEvent[]) {
              if (event.type === 'done') {
                waiting.delete(event.id);
                events.onOutcome(event.id, undefined, event.result ? decode(event.result) : undefined);
              } else if (event.type === 'failed') {
                waiting.delete(event.id);
                events.onOutcome(event.id, event.error?.name ?? 'Error', undefined);
              }
            }
          }
        }
        if (waiting.size > 0) events.onStreamError('stream_ended');
      }
    } catch (error) {
      if (signal.aborted) return;
      events.onStreamError(String((error as { code?: string }).code ?? (error as Error).name));
    }
    if (waiting.size > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
