import { encode } from '../../../src/codec.js';
import type { RemoteErrorInfo } from '../../../src/errors.js';
import { OUTPUT_TAIL_BYTES, type HistoryLimits, type HistoryOutcome, type JobHistoryEntry } from '../../../src/job-history.js';
import type { Logger } from '../../../src/log.js';
import { PackedFields } from '../../../src/store/packed-fields.js';
import type { Store } from '../../../src/store/store.js';

/** What the executor knows of a job it finishes (its ActiveJob fits this shape). */
export interface FinishedJobView {
  id: string;
  job: { name: string; queue: string };
  /** performance.now() when it was claimed */
  startedAt: number;
}

/** How many characters of a job id hold its batch's creation time (ms, base 36; see src/ids.ts). */
const BATCH_TIME_CHARS = 9;
/** Characters kept per running job: 8 KiB of ASCII; cut to 8 KiB of UTF-8 when recorded. */
const TAIL_CHARS = OUTPUT_TAIL_BYTES;
/** Even with no finished job, the history is trimmed (by age) this often. */
const TRIM_EVERY_MS = 60_000;

/**
 * Writes the jobs this node ran into the cluster's job history: the executor hands each
 * finished job over (one call), the entries of one tick go to Redis in one recordHistory.lua
 * call, in the same write as the tick's outcomes (the store corks per tick). Also keeps the
 * last 8 KiB of output of every job running here.
 */
export class HistoryRecorder {
  private readonly tails = new Map<string, { text: string; chars: number }>();
  private readonly running = new Map<string, FinishedJobView>();
  /** jobs this node finished since it started, by whether they ended ok */
  readonly counts = { ok: 0, failed: 0 };
  private pending: { id: string; ended: number; failed: boolean; entry: Uint8Array }[] = [];
  private flushScheduled = false;
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
    const ended = Date.now();
    this.running.delete(active.id);
    if (error) this.counts.failed++;
    else this.counts.ok++;
    if (this.limits.maxEntries === 0) return; // --history-max 0: no history
    const tail = this.tails.get(active.id);
    if (tail) this.tails.delete(active.id);
    const entry: JobHistoryEntry = {
      id: active.id,
      fn: active.job.name,
      queue: active.job.queue || '(direct)',
      node: this.nodeName,
      submitted: submitTime(active.id, ended),
      started: Math.round(ended - (performance.now() - active.startedAt)),
      ended,
      outcome: outcomeOf(error),
      output: tail ? lastBytes(tail.text, OUTPUT_TAIL_BYTES) : '',
      outputChars: tail?.chars ?? 0,
    };
    if (error) entry.error = error;
    this.pending.push({ id: active.id, ended, failed: error !== undefined, entry: encode(entry) });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    const packed = new PackedFields(batch.length * 256 + 16);
    for (const { id, ended, failed, entry } of batch) packed.add(id).add(String(ended)).add(failed ? '1' : '0').add(entry);
    this.store.history.record(Date.now(), this.limits, packed.bytes()).catch((error: unknown) => {
      this.log.warn({ err: error, jobs: batch.length }, 'could not record finished jobs in the job history');
    });
  }
}

function outcomeOf(error: RemoteErrorInfo | undefined): HistoryOutcome {
  if (!error) return 'ok';
  if (error.name === 'TimeoutError') return 'timeout';
  if (error.name === 'CancelledError') return 'cancelled';
  return 'error';
}

function submitTime(id: string, fallback: number): number {
  const time = Number.parseInt(id.slice(0, BATCH_TIME_CHARS), 36);
  return Number.isFinite(time) ? time : fallback;
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
