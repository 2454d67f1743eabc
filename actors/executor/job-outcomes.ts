import { encode } from '../../src/codec.js';
import { isRetryable } from '../../src/job-policy.js';
import { wakeSubject } from '../../src/subjects.js';
import type { JobEvent, WireJobEvent } from '../../src/protocol.js';
import type { JobOutcomeRecord } from '../../src/store/store.js';
import type { PrefetchPolicy } from './duration-estimate.js';
import type { EventPublisher } from './event-publisher.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { ActiveJob, JobOutcome } from './job-types.js';

export type JobOutcomesDeps = Pick<ExecutorDeps, 'config' | 'store' | 'log' | 'spill' | 'metrics' | 'history' | 'bus'> & {
  events: EventPublisher;
  prefetch: PrefetchPolicy;
  /** the job is over: its thread is free (see Executor.release) */
  release: (active: ActiveJob) => void;
};

/** An outcome to write; `event` is set when it may only be announced after the write. */
interface QueuedOutcome {
  record: JobOutcomeRecord;
  head: string;
  event?: WireJobEvent;
}

/**
 * Finishes jobs: feeds the prefetch, metrics and history, and reports each outcome, written
 * to Redis first (the source of truth, one write per tick), then announced to its head.
 */
export class JobOutcomes {
  private queued: QueuedOutcome[] = [];
  private flushScheduled = false;
  /** outcome writes under way, which a stop waits for */
  private readonly writes = new Set<Promise<unknown>>();
  private finished = 0;

  constructor(private readonly deps: JobOutcomesDeps) {}

  /** Jobs finished since the node started. */
  get completed(): number {
    return this.finished;
  }

  /**
   * `ranMs`: how long the job ran on its thread. Without it (a timeout, a crash), the time
   * since it was claimed counts, waiting included.
   */
  finish(active: ActiveJob, outcome: JobOutcome, ranMs?: number): void {
    this.deps.log.debug({ job: active.id, ok: outcome.ok, ranMs }, 'job finished');
    this.deps.release(active);
    // The prefetch follows how long jobs run, not how long they waited behind prefetched ones
    // (which made it claim ~20 no-ops at a time instead of hundreds).
    this.deps.prefetch.record(active.job.fn, ranMs ?? performance.now() - active.startedAt);
    this.finished++;
    this.deps.metrics?.jobFinished(active.job.queue, outcome.ok ? undefined : outcome.error.name, ranMs, active.startedAt);
    this.deps.history?.finished(active, outcome.ok ? undefined : outcome.error);
    const policy = active.options.policy;
    if (!outcome.ok && !active.direct && policy?.retries && isRetryable(outcome.error.name, policy.retryOn)) {
      this.retryOrPublish(active, outcome, policy);
      return;
    }
    this.publish(active, outcome);
  }

  /**
   * A failure its policy covers: queued again after its delay (lua/retryJob.lua) while retries
   * are left; else (used up, or the retry could not be written) reported as usual.
   */
  private retryOrPublish(active: ActiveJob, outcome: JobOutcome & { ok: false }, policy: NonNullable<ActiveJob['options']['policy']>): void {
    const { store, config, log } = this.deps;
    const retry = store.retry(config.nodeName, active.id, {
      retries: policy.retries!,
      delayMs: policy.retryDelayMs ?? 0,
      backoff: policy.retryBackoff ?? 2,
      jitter: 0.8 + 0.4 * Math.random(),
    }).then((n) => {
      if (n > 0) {
        log.debug({ job: active.id, retry: n, error: outcome.error.name }, 'job failed, queued again for a retry');
        // Idle executors learn of it now (and of when it is due), not at their next poll.
        this.deps.bus.publish(wakeSubject(this.deps.bus, active.job.queue), new Uint8Array(0));
      }
      else if (n === 0) this.publish(active, outcome);
      // -1: cancelled or re-queued meanwhile; its newer state stands
    }, (error: unknown) => {
      log.error({ err: error, job: active.id }, 'could not queue a job again for a retry; reporting its failure');
      this.publish(active, outcome);
    });
    this.writes.add(retry);
    void retry.finally(() => this.writes.delete(retry));
  }

  /** Waits (at most `ms`) until the outcomes handed to Redis so far are written and announced. */
  async written(ms = 5_000): Promise<void> {
    if (this.writes.size === 0 || !this.deps.store.connected) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.writes]),
      new Promise((resolve) => { timer = setTimeout(resolve, ms); }),
    ]);
    clearTimeout(timer);
    this.deps.events.flush();
  }

  /** Hands an outcome to its waiting tracker and to Redis (the source of truth). */
  private publish(active: ActiveJob, outcome: JobOutcome): void {
    const { id } = active;
    const { events } = this.deps;
    const event: JobEvent = outcome.ok ? { type: 'done', id, result: outcome.result } : { type: 'failed', id, error: outcome.error };
    if (active.direct) {
      // Not in Redis: the tracker waiting for it is in this process.
      events.publishLocal(active.head, event);
      return;
    }
    const { config, spill } = this.deps;
    // This node's own clients get the outcome in memory, whatever its size (see EventPublisher).
    const local = active.head === config.nodeName;
    if (outcome.ok && outcome.result.byteLength > config.spillResultBytes) {
      // Kept on this node (in memory, on disk if not taken soon); Redis records where.
      spill.keep(id, outcome.result);
      const record: JobOutcomeRecord = { id, status: 'done', field: 'spill', value: config.nodeName };
      if (active.options.policy?.resultTtlMs !== undefined) record.ttlMs = active.options.policy.resultTtlMs;
      if (local) {
        events.add(active.head, event);
        this.enqueue({ record, head: active.head });
      } else {
        this.enqueue({ record, head: active.head, event: { type: 'done', id, resultAt: config.nodeName } });
      }
      return;
    }
    const record: JobOutcomeRecord = outcome.ok
      ? { id, status: 'done', field: 'res', value: outcome.result }
      : { id, status: 'failed', field: 'err', value: encode(outcome.error) };
    const ttlMs = active.options.policy?.resultTtlMs;
    if (ttlMs !== undefined) record.ttlMs = ttlMs;
    const size = outcome.ok ? outcome.result.byteLength : 3 * (outcome.error.message.length + (outcome.error.stack?.length ?? 0)) + 64;
    if (local || size <= config.inlineResultBytes) {
      // Announced while it is written: the client need not wait for Redis. If the job was
      // cancelled meanwhile, the client already has its first outcome and ignores this one.
      events.add(active.head, event, local ? undefined : size + 32);
      this.enqueue({ record, head: active.head });
    } else {
      this.enqueue({ record, head: active.head, event: { type: 'done', id, resultInStore: true } });
    }
  }

  private enqueue(entry: QueuedOutcome): void {
    this.queued.push(entry);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the outcomes queued so far in one call (a stop calls it rather than wait a tick). */
  flush(): void {
    this.flushScheduled = false;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    const { store, config, log, events } = this.deps;
    const written = store.finish(config.nodeName, batch.map((o) => o.record), config.resultTtlMs).then(
      (ignored) => {
        for (const { record, event, head } of batch) {
          if (ignored.has(record.id)) {
            // Cancelled or re-queued meanwhile: a result kept here will never be taken.
            if (record.field === 'spill') this.deps.spill.discard(record.id);
          } else if (event) {
            events.add(head, event);
          }
        }
      },
      (error: unknown) => {
        log.error({ err: error, jobs: batch.length }, 'could not record job outcomes in Redis');
        for (const { record, event, head } of batch) {
          if (event) events.add(head, { type: 'failed', id: record.id, error: { name: 'StoreError', message: `the result of job ${record.id} could not be stored: ${(error as Error).message}` } });
        }
      },
    );
    this.writes.add(written);
    void written.finally(() => this.writes.delete(written));
  }
}
