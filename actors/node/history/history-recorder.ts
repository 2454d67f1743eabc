import type { RemoteErrorInfo } from '../../../src/errors.js';
import { OUTPUT_TAIL_BYTES, type HistoryLimits, type HistoryOutcome, type JobHistoryEntry } from '../../../src/job-history.js';
import type { Logger } from '../../../src/log.js';
import { PackedFields } from '../../../src/store/packed-fields.js';
import type { Store } from '../../../src/store/store.js';
import { compactEntry, fullEntry, submitTime } from './history-entry-codec.js';

/** What the executor knows of a job it finishes (its ActiveJob fits this shape). */
export interface FinishedJobView {
  id: string;
  job: { name: string; queue: string };
  /** performance.now() when it was claimed */
  startedAt: number;
}

/** Characters kept per running job: 8 KiB of ASCII; cut to 8 KiB of UTF-8 when recorded. */
const TAIL_CHARS = OUTPUT_TAIL_BYTES;
/** Even with no finished job, the history is trimmed (by age) this often. */
const TRIM_EVERY_MS = 60_000;
/** At most one write of finished jobs per this many ms (the first after a quiet moment goes at once)... */
export const FLUSH_EVERY_MS = 50;
/** ...or until this many are waiting (which bounds the buffer, and one script call's work). */
const FLUSH_AT_ENTRIES = 2_000;

/** A finished job waiting to be written: the bare facts; its entry is built when written. */
interface PendingJob {
  id: string;
  fn: string;
  queue: string;
  started: number;
  ended: number;
  error?: RemoteErrorInfo;
  tail?: { text: string; chars: number };
}

/**
 * Writes the jobs this node ran into the cluster's job history: the executor hands each
 * finished job over (one call that only keeps its facts), and their entries go to Redis in
 * one recordHistory.lua call at most every 50 ms (or per 2,000 jobs), off the job-finish
 * path; after a quiet moment, in the same tick as the job's outcome. Also
 * keeps the last 8 KiB of output of every job running here.
 */
export class HistoryRecorder {
  private readonly tails = new Map<string, { text: string; chars: number }>();
  private readonly running = new Map<string, FinishedJobView>();
  /** jobs this node finished since it started, by whether they ended ok */
  readonly counts = { ok: 0, failed: 0 };
  private pending: PendingJob[] = [];
  private flushTimer?: NodeJS.Timeout;
  private flushScheduled = false;
  private lastFlushAt = -Infinity;
  private trimTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly nodeName: string,
    private readonly limits: HistoryLimits,
    private readonly log: Logger,
  ) {
  }

  start(): void {
    this.trimTimer = setInterval(() => this.flush(), TRIM_EVERY_MS);
    this.trimTimer.unref();
  }

  stop(): void {
    clearInterval(this.trimTimer);
    if (this.pending.length > 0) this.flush();
  }

  /** A piece of a running job's output. */
  output(id: string, text: string): void {
    if (this.limits.maxEntries === 0) return;
    const tail = this.tails.get(id);
    if (!tail) {
      this.tails.set(id, { text: text.length > TAIL_CHARS ? text.slice(-TAIL_CHARS) : text, chars: text.length });
      return;
    }
    tail.chars += text.length;
    tail.text += text;
    if (tail.text.length > 2 * TAIL_CHARS) tail.text = tail.text.slice(-TAIL_CHARS);
  }

  /** The output kept so far of a job running here. */
  tail(id: string): { output: string; outputChars: number } {
    const tail = this.tails.get(id);
    return { output: tail ? lastBytes(tail.text, OUTPUT_TAIL_BYTES) : '', outputChars: tail?.chars ?? 0 };
  }

  /** A job starts on this node (claimed, or run directly). */
  started(active: FinishedJobView): void {
    this.running.set(active.id, active);
  }

  /** The jobs running here (at most `max`), for the dashboard. */
  runningJobs(max: number): { id: string; fn: string; queue: string; started: number }[] {
    const now = Date.now();
    const at = performance.now();
    const jobs: { id: string; fn: string; queue: string; started: number }[] = [];
    for (const active of this.running.values()) {
      if (jobs.length >= max) break;
      jobs.push({ id: active.id, fn: active.job.name, queue: active.job.queue || '(direct)', started: Math.round(now - (at - active.startedAt)) });
    }
    return jobs;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** A job ended on this node: without `error` it ended ok. */
  finished(active: FinishedJobView, error?: RemoteErrorInfo): void {
    this.running.delete(active.id);
    if (error) this.counts.failed++;
    else this.counts.ok++;
    if (this.limits.maxEntries === 0) return; // --history-max 0: no history
    const ended = Date.now();
    const job: PendingJob = {
      id: active.id,
      fn: active.job.name,
      queue: active.job.queue || '(direct)',
      started: Math.round(ended - (performance.now() - active.startedAt)),
      ended,
      error,
    };
    const tail = this.tails.get(active.id);
    if (tail) {
      this.tails.delete(active.id);
      job.tail = tail;
    }
    this.pending.push(job);
    if (this.pending.length >= FLUSH_AT_ENTRIES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After a quiet moment, written this tick (in the same write as the job's outcome, so a
      // client that has the result finds the entry); during a stream of jobs, once per
      // FLUSH_EVERY_MS.
      const wait = FLUSH_EVERY_MS - (performance.now() - this.lastFlushAt);
      if (wait <= 0) setImmediate(() => { if (this.flushScheduled) this.flush(); });
      else this.flushTimer = setTimeout(() => this.flush(), wait);
    }
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushScheduled = false;
    this.lastFlushAt = performance.now();
    const batch = this.pending;
    this.pending = [];
    const packed = new PackedFields(batch.length * 128 + 16);
    for (const job of batch) {
      packed.add(job.id).add(String(job.ended)).add(job.error ? '1' : '0').add(this.entry(job));
    }
    this.store.history.record(Date.now(), this.limits, packed.bytes()).catch((error: unknown) => {
      this.log.warn({ err: error, jobs: batch.length }, 'could not record finished jobs in the job history');
    });
  }

  /** The stored entry: compact for an ok job that printed nothing, CBOR otherwise. */
  private entry(job: PendingJob): string | Uint8Array {
    const { id, fn, queue, started, ended, error, tail } = job;
    if (!error && !tail) {
      const compact = compactEntry({ id, fn, queue, node: this.nodeName, started, ended });
      if (compact !== undefined) return compact;
    }
    const entry: JobHistoryEntry = {
      id,
      fn,
      queue,
      node: this.nodeName,
      submitted: submitTime(id, ended),
      started,
      ended,
      outcome: outcomeOf(error),
      output: tail ? lastBytes(tail.text, OUTPUT_TAIL_BYTES) : '',
      outputChars: tail?.chars ?? 0,
    };
    if (error) entry.error = error;
    return fullEntry(entry);
  }
}

function outcomeOf(error: RemoteErrorInfo | undefined): HistoryOutcome {
  if (!error) return 'ok';
  if (error.name === 'TimeoutError') return 'timeout';
  if (error.name === 'CancelledError') return 'cancelled';
  return 'error';
}

/** The end of `text` that fits in `max` bytes of UTF-8 (never half a character). */
export function lastBytes(text: string, max: number): string {
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let start = bytes.length - max;
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++; // not in the middle of a character
  return bytes.toString('utf8', start);
}
