/**
 * How many jobs an executor may hold beyond its running threads. Short jobs are claimed in
 * large batches (one Lua call feeds many), long jobs one per free thread (so other nodes
 * get their share). Based on a moving average of job durations.
 */
export class PrefetchPolicy {
  private averageMs = Number.NaN;

  constructor(
    private readonly threads: number,
    /** how much queued work per thread is worth holding, in ms */
    private readonly bufferMs = 20,
    private readonly maxPerThread = 256,
  ) {}

  record(durationMs: number): void {
    this.averageMs = Number.isNaN(this.averageMs) ? durationMs : this.averageMs * 0.9 + durationMs * 0.1;
  }

  /** Jobs held at most: running plus prefetched. */
  capacity(): number {
    if (Number.isNaN(this.averageMs)) return this.threads;
    const perThread = Math.min(this.maxPerThread, Math.floor(this.bufferMs / Math.max(this.averageMs, 0.001)));
    return this.threads * (1 + perThread);
  }
}
