import { checkedErrorInfo, type RemoteErrorInfo } from '../../src/errors.js';
import type { ActiveJobs } from './active-jobs.js';
import type { EventPublisher } from './event-publisher.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob } from './job-types.js';
import type { WorkerReport } from './worker-protocol.js';

/** Output is forwarded in pieces of at most this many UTF-16 units (≤ 192 KiB of UTF-8). */
const OUTPUT_PIECE_CHARS = 64 * 1024;
/** A remote error's message and stack are cut to this many characters each. */
const ERROR_TEXT_CHARS = 32 * 1024;

/** Splits text into pieces of at most `max` UTF-16 units, never inside a surrogate pair. */
function textPieces(text: string, max: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length;) {
    const end = pieceEnd(text, start, max);
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces.length > 0 ? pieces : [text];
}

function pieceEnd(text: string, start: number, max: number): number {
  const end = Math.min(start + max, text.length);
  const last = text.charCodeAt(end - 1);
  return end < text.length && last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

/** A thrown error's text stays small enough to travel in an event; the rest is counted, not sent. */
function boundedError(error: RemoteErrorInfo): RemoteErrorInfo {
  const cut = (text: string) => {
    if (text.length <= ERROR_TEXT_CHARS) return text;
    const end = pieceEnd(text, 0, ERROR_TEXT_CHARS);
    return `${text.slice(0, end)}… (${text.length - end} more characters)`;
  };
  return { ...error, message: cut(error.message), stack: error.stack === undefined ? undefined : cut(error.stack) };
}

export type WorkerReportsDeps = Pick<ExecutorDeps, 'history'> & {
  jobs: ActiveJobs;
  events: EventPublisher;
  outcomes: JobOutcomes;
  release: (active: ActiveJob) => void;
};

/** What a worker thread reports of a job (output, result, error), turned into events and outcomes. */
export class WorkerReports {
  constructor(private readonly deps: WorkerReportsDeps) {}

  handle(message: WorkerReport): void {
    const active = this.deps.jobs.get(message.id);
    if (!active) return;
    if (active.endedBy) {
      // Cancelled: its outcome no longer counts, but the job is over and its thread is free.
      if (message.t !== 'out') this.deps.release(active);
      return;
    }
    switch (message.t) {
      case 'out':
        this.deps.history?.output(message.id, message.d);
        if (!active.job.output) return;
        // Pieces small enough for one NATS message each (a frame is at most 512 KiB).
        for (const text of textPieces(message.d, OUTPUT_PIECE_CHARS)) {
          this.deps.events.add(active.head, { type: 'output', id: message.id, stream: message.s, text }, 3 * text.length + 32);
        }
        return;
      case 'done':
        this.deps.outcomes.finish(active, { ok: true, result: message.r }, message.ms);
        return;
      case 'fail':
        this.deps.outcomes.finish(active, { ok: false, error: boundedError(checkedErrorInfo(message.e)) }, message.ms);
        return;
    }
  }
}
