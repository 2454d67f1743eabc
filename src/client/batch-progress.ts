/** What `onProgress` receives: a batch's jobs so far (`br()`, `map()`). */
export interface BatchProgress {
  /** jobs that finished with a result */
  done: number;
  /** jobs that failed (or that the cluster no longer held) */
  failed: number;
  total: number;
  elapsedMs: number;
  /** settled jobs per second since the batch was collected */
  rate: number;
  /** estimated ms left at the current rate; undefined before the first job settles */
  etaMs: number | undefined;
}

export interface BatchProgressOptions {
  /** draw the bar (on stderr, when it is a terminal); default true */
  draw: boolean;
  onProgress?: (progress: BatchProgress) => void;
  /** ms before the bar first shows (short batches never draw); default 1000 */
  showAfterMs?: number;
}

/** Tracks one batch: counts settled jobs, tells onProgress, and draws the terminal bar. */
export interface BatchProgressTracker {
  settled(ok: boolean): void;
  /** Runs `write` (task output `text`) with the bar moved out of its way: cleared first, redrawn after. */
  aboveBar(text: string, write: () => void): void;
  finish(): void;
}

const REDRAW_MS = 200;
const CLEAR_LINE = '\r\x1b[2K';

/**
 * The bar is a few lines of our own rather than cli-progress: task output goes to stdout
 * and stderr at any time, and the bar must be cleared before each write and redrawn after
 * it; cli-progress redraws on its own timer and offers no hook around writes to another
 * stream (its `log()` exists only on MultiBar and writes to the bar's own stream).
 */
export function trackBatch(total: number, options: BatchProgressOptions): BatchProgressTracker {
  const started = Date.now();
  let done = 0;
  let failed = 0;
  const stderr = process.stderr;
  const drawable = options.draw && Boolean(stderr.isTTY) && total > 0;
  let shown = false;
  let drawn = false;
  let midLine = false;
  let timer: NodeJS.Timeout | undefined;

  const snapshot = (): BatchProgress => {
    const elapsedMs = Date.now() - started;
    const settledCount = done + failed;
    const rate = settledCount / Math.max(0.001, elapsedMs / 1000);
    const etaMs = settledCount === 0 ? undefined : Math.round(((total - settledCount) / rate) * 1000);
    return { done, failed, total, elapsedMs, rate, etaMs };
  };

  const clear = () => {
    if (drawn) stderr.write(CLEAR_LINE);
    drawn = false;
  };
  const draw = () => {
    if (!shown || midLine) return;
    stderr.write(CLEAR_LINE + barLine(snapshot(), stderr.columns || 80));
    drawn = true;
  };

  if (drawable) {
    timer = setInterval(() => {
      if (!shown && Date.now() - started >= (options.showAfterMs ?? 1000)) shown = true;
      draw();
    }, REDRAW_MS);
    timer.unref();
  }
  options.onProgress?.(snapshot());

  return {
    settled(ok) {
      if (ok) done++;
      else failed++;
      options.onProgress?.(snapshot());
    },
    aboveBar(text, write) {
      clear();
      write();
      // Output may end mid-line: the bar waits for the newline, or redrawing would erase the text.
      if (text.length > 0) midLine = !text.endsWith('\n');
      draw();
    },
    finish() {
      if (timer) clearInterval(timer);
      if (shown && !midLine) {
        stderr.write(CLEAR_LINE + barLine(snapshot(), stderr.columns || 80) + '\n');
      }
      shown = false;
    },
  };
}

/** `[██████░░░░] 12/40 done, 1 failed | 8.3 jobs/s | ETA 4s`, cut to the terminal's width. */
export function barLine(p: BatchProgress, columns: number): string {
  const settled = p.done + p.failed;
  const width = 20;
  const filled = p.total === 0 ? width : Math.min(width, Math.round((settled / p.total) * width));
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const failed = p.failed > 0 ? `, ${p.failed} failed` : '';
  const eta = p.etaMs === undefined ? 'ETA ?' : `ETA ${formatSeconds(p.etaMs)}`;
  const line = `[${bar}] ${p.done}/${p.total} done${failed} | ${p.rate.toFixed(1)} jobs/s | ${eta}`;
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}

function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
