import type { RemoteErrorInfo } from '../../src/errors.js';
import { packViews } from '../../src/bytes.js';
import type { OutputStream } from '../../src/protocol.js';
import type { WorkerReport } from './worker-protocol.js';

export interface OutboxPort {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
}

export interface OutboxOptions {
  /** output waits at most this long (ms) before it is sent */
  outputDelayMs: number;
  /** ... or until this many characters of it are waiting */
  outputChars: number;
  /** results smaller than this share one buffer per message; larger ones get their own */
  sharedResultBytes: number;
}

export const OUTBOX_DEFAULTS: OutboxOptions = { outputDelayMs: 5, outputChars: 16 * 1024, sharedResultBytes: 16 * 1024 };

/**
 * What a worker thread reports to the main thread, batched: one message carries the output
 * and outcomes of many jobs, in the order they happened (so a job's output always precedes
 * its outcome, and stdout/stderr keep their interleaving). Consecutive output of one job on
 * one stream is joined. Output is sent within `outputDelayMs` (checked on every write, so a
 * busy synchronous task still streams it) or once `outputChars` are waiting; outcomes are
 * sent at the next turn of the thread's event loop, or earlier when `flush()` is called.
 *
 * Result bytes are always copied into buffers of their exact size, which are transferred,
 * never cloned: a result encoded by cbor-x is a view of a shared buffer that may be many
 * MiB, and posting the view would copy all of it.
 */
export class WorkerOutbox {
  private reports: WorkerReport[] = [];
  private oldestOutputAt = -1;
  private outputChars = 0;
  private oldestAt = -1;
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private readonly flushNow = () => this.flush();
  private readonly owned = new Set<Uint8Array>();

  constructor(private readonly port: OutboxPort, private readonly options: OutboxOptions = OUTBOX_DEFAULTS) {}

  /** When the oldest unsent report was added (performance.now()), or -1 when nothing waits. */
  get waitingSince(): number {
    return this.oldestAt;
  }

  output(id: string, stream: OutputStream, text: string): void {
    const now = performance.now();
    const last = this.reports[this.reports.length - 1];
    if (last !== undefined && last.t === 'out' && last.id === id && last.s === stream) last.d += text;
    else this.add({ t: 'out', id, s: stream, d: text }, now);
    if (this.oldestOutputAt < 0) this.oldestOutputAt = now;
    this.outputChars += text.length;
    if (this.outputChars >= this.options.outputChars || now - this.oldestOutputAt >= this.options.outputDelayMs) {
      this.flush();
    } else {
      this.timer ??= setTimeout(this.flushNow, this.options.outputDelayMs);
    }
  }

  /** `owned`: the result is in a buffer of its own that nothing else uses (transferred as it is). */
  done(id: string, result: Uint8Array, ms: number, owned = false): void {
    if (owned) this.owned.add(result);
    this.add({ t: 'done', id, r: result, ms }, performance.now());
    this.immediate ??= setImmediate(this.flushNow);
  }

  failed(id: string, error: RemoteErrorInfo, ms: number): void {
    this.add({ t: 'fail', id, e: error, ms }, performance.now());
    this.immediate ??= setImmediate(this.flushNow);
  }

  /** Sends everything waiting, at once. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    const reports = this.reports;
    if (reports.length === 0) return;
    this.reports = [];
    this.oldestAt = -1;
    this.oldestOutputAt = -1;
    this.outputChars = 0;
    const transfer: ArrayBuffer[] = [];
    const shared: Extract<WorkerReport, { t: 'done' }>[] = [];
    for (const report of reports) {
      if (report.t !== 'done') continue;
      if (this.owned.delete(report.r)) {
        transfer.push(report.r.buffer as ArrayBuffer);
      } else if (report.r.byteLength < this.options.sharedResultBytes) {
        shared.push(report);
      } else {
        report.r = new Uint8Array(report.r);
        transfer.push(report.r.buffer as ArrayBuffer);
      }
    }
    if (shared.length > 0) {
      const copies = packViews(shared.map((report) => report.r));
      shared.forEach((report, i) => {
        report.r = copies[i];
      });
      transfer.push(copies[0].buffer as ArrayBuffer);
    }
    this.port.postMessage(reports, transfer);
  }

  private add(report: WorkerReport, now: number): void {
    if (this.oldestAt < 0) this.oldestAt = now;
    this.reports.push(report);
  }
}
