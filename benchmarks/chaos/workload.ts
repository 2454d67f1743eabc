import { join } from 'node:path';
import type { Client, CallOptions } from '../../index.js';
import { collectBatch } from './collector.js';
import { chaosTask, readLedger, type LedgerEntry } from './side-effects.js';
import type { BatchRecord, DeliveryRecord } from './tally.js';

export interface CallSpec {
  /** how long the task sleeps, ms */
  ms: number;
  options?: CallOptions;
  /** bytes of padding in the call's arguments (stored in Redis with the job) */
  padding?: number;
}

export interface RunOptions {
  jobs: number;
  batches: number;
  ms: number;
  padding?: number;
  /** pause between two execute() calls */
  pauseMs?: number;
  /** called before batch i is submitted (a scenario starts its fault there, without awaiting it) */
  beforeBatch?: (i: number) => void | Promise<void>;
}

/**
 * What a scenario submits and receives: every execute() (tokens, ids or error), every outcome
 * the client received, and the ledger of what ran. Each accepted batch is collected on its
 * own stream from `collectUrl` (unless `collect` is false: the scenario collects, e.g. with
 * `br()`).
 */
export class Workload {
  readonly batches: BatchRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  readonly collectErrors: string[] = [];
  readonly ledger: string;
  readonly startedAt = Date.now();
  private readonly collecting: Promise<void>[] = [];
  private readonly seenErrors = new Set<string>();
  private tokenSeq = 0;

  constructor(
    private readonly client: Client,
    readonly collectUrl: string,
    dir: string,
    private readonly signal: AbortSignal,
    private readonly collect = true,
  ) {
    this.ledger = join(dir, 'ledger.txt');
  }

  /** One execute() of the given calls; an accepted batch starts being collected at once. */
  async submit(calls: CallSpec[]): Promise<BatchRecord> {
    const record: BatchRecord = { tokens: calls.map(() => `t${this.tokenSeq++}`) };
    const index = this.batches.push(record) - 1;
    calls.forEach((call, i) => {
      const padding = call.padding ? 'x'.repeat(call.padding) : undefined;
      this.client.bcWith(call.options ?? {}, chaosTask, this.ledger, record.tokens[i], call.ms, padding);
    });
    try {
      record.ids = await this.client.execute();
    } catch (error) {
      record.submitError = errorCode(error);
      return record;
    } finally {
      record.settledAt = Date.now();
    }
    if (this.collect) this.collecting.push(this.follow(index, record.ids));
    return record;
  }

  /** `jobs` calls in `batches` execute()s, one after another. */
  async run(o: RunOptions): Promise<void> {
    const per = Math.ceil(o.jobs / o.batches);
    for (let i = 0, left = o.jobs; left > 0 && !this.signal.aborted; i++, left -= per) {
      await o.beforeBatch?.(i);
      await this.submit(Array.from({ length: Math.min(per, left) }, () => ({ ms: o.ms, padding: o.padding })));
      if (o.pauseMs) await sleep(o.pauseMs, this.signal);
    }
  }

  /** Waits until every accepted batch has all its outcomes (or the scenario's signal aborts). */
  async settle(): Promise<void> {
    await Promise.all(this.collecting);
  }

  recordDelivery(id: string, failure?: string): void {
    this.deliveries.push({ id, at: Date.now(), failure });
  }

  /**
   * The longest pause in the flow of results from `at` (a fault's start) on: from `at` to the
   * first result after it, or between two results. Undefined if no result came after `at`.
   */
  longestStallAfter(at: number): number | undefined {
    const times = this.deliveries.filter((d) => d.at >= at && !d.failure).map((d) => d.at).sort((a, b) => a - b);
    if (times.length === 0) return undefined;
    let longest = 0;
    let previous = at;
    for (const t of times) {
      longest = Math.max(longest, t - previous);
      previous = t;
    }
    return longest;
  }

  readLedger(): LedgerEntry[] {
    return readLedger(this.ledger);
  }

  private follow(batchIndex: number, ids: string[]): Promise<void> {
    return collectBatch(this.collectUrl, ids, {
      onOutcome: (id, failure) => this.recordDelivery(id, failure),
      onStreamError: (code) => {
        const key = `${batchIndex}:${code}`;
        if (this.seenErrors.has(key)) return;
        this.seenErrors.add(key);
        this.collectErrors.push(code);
      },
    }, this.signal);
  }
}

export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; remoteName?: unknown };
  if (typeof e?.remoteName === 'string') return e.remoteName;
  if (typeof e?.code === 'string') return e.code;
  return typeof e?.name === 'string' ? e.name : 'unknown';
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Polls `check` every 100 ms until it is true; false if `timeoutMs` passed or `signal` aborted first. */
export async function waitFor(check: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < end) {
    if (check()) return true;
    await sleep(100, signal);
  }
  return check();
}

/** Resolves (with undefined) when `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
