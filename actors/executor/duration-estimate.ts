/**
 * How many jobs an executor may hold beyond its running threads, and of which functions.
 * Jobs of functions known to be short are claimed in large batches (one Lua call feeds
 * many) and share piscina tasks; any other job is claimed only for a free thread and runs
 * alone, so a long job never waits behind another on a busy thread while a thread is idle,
 * and other nodes get their share. Based on moving averages of how long each function's
 * jobs ran on their thread.
 */
export class PrefetchPolicy {
  /** moving average of each function's run time (ms); insertion order = least recently used first */
  private readonly byFunction = new Map<string, number>();
  /** moving average over jobs of short functions: sets how many to hold */
  private shortAverageMs = Number.NaN;
  /** `prefetchable()`'s answer, until a function becomes or stops being short */
  private shortList: string[] | undefined;

  constructor(
    private readonly threads: number,
    /** how much queued work per thread is worth holding, in ms */
    private readonly bufferMs = 20,
    private readonly maxPerThread = 256,
    /** a function whose jobs run at most this long on average is short */
    private readonly shortMs = 5,
    /** functions remembered at most */
    private readonly maxFunctions = 1024,
    /** short functions named in a claim at most (the most recently run) */
    private readonly maxPrefetchable = 64,
  ) {}

  record(fn: string, durationMs: number): void {
    const before = this.byFunction.get(fn);
    const average = before === undefined ? durationMs : before * 0.9 + durationMs * 0.1;
    this.byFunction.delete(fn);
    this.byFunction.set(fn, average);
    if (this.byFunction.size > this.maxFunctions) {
      this.byFunction.delete(this.byFunction.keys().next().value!);
      this.shortList = undefined;
    }
    if ((before !== undefined && before <= this.shortMs) !== average <= this.shortMs) this.shortList = undefined;
    if (average <= this.shortMs) {
      this.shortAverageMs = Number.isNaN(this.shortAverageMs) ? durationMs : this.shortAverageMs * 0.9 + durationMs * 0.1;
    }
  }

  isShort(fn: string): boolean {
    const average = this.byFunction.get(fn);
    return average !== undefined && average <= this.shortMs;
  }

  /** The short functions a claim may prefetch (the most recently run ones, if there are many). */
  prefetchable(): readonly string[] {
    if (this.shortList) return this.shortList;
    const short: string[] = [];
    for (const [fn, average] of [...this.byFunction].reverse()) {
      if (average > this.shortMs) continue;
      short.push(fn);
      if (short.length === this.maxPrefetchable) break;
    }
    this.shortList = short;
    return short;
  }

  /**
   * Jobs held at most: running plus prefetched. A thread busy with a job that is not known
   * to be short may be busy for long: nothing is prefetched for it.
   */
  capacity(longJobs = 0): number {
    if (Number.isNaN(this.shortAverageMs)) return this.threads;
    const perThread = Math.min(this.maxPerThread, Math.floor(this.bufferMs / Math.max(this.shortAverageMs, 0.001)));
    return this.threads + Math.max(0, this.threads - longJobs) * perThread;
  }
}
