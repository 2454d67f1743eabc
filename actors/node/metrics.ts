import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { parseHostQueue } from '../../src/store/keys.js';
import type { ClaimedJob, Store } from '../../src/store/store.js';
import { FastHistogram, type HistogramSeries } from './fast-histogram.js';

/** The `queue` label of jobs run with `callWith({ async: false })`: they pass through no queue. */
export const DIRECT_QUEUE = '(direct)';

export const JOB_OUTCOMES = ['ok', 'error', 'cancelled', 'timeout', 'lost'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];
export const LOCALITY_CHOICES = ['first', 'later', 'shared'] as const;
export type LocalityChoice = (typeof LOCALITY_CHOICES)[number];

/** What a scrape reads from the node and its servers; each answer is awaited at most PROBE_TIMEOUT_MS. */
export interface MetricsProbes {
  threads(): Promise<{ busy: number; idle: number }>;
  /** bytes of the data this node holds on disk (the catalog's count) */
  diskBytesHeld(): Promise<number>;
  /** bytes the node's memory tier counts against `--memory-cache` (shared bytes and threads' decoded objects) */
  memoryBytesHeld(): Promise<number>;
  /** copies waiting per queue key, cluster-wide */
  queueWaiting(): Promise<Record<string, number>>;
  redisUp(): Promise<boolean>;
  natsUp(): Promise<boolean>;
}

export const PROBE_TIMEOUT_MS = 1000;
/** Seconds: from no-ops (sub-millisecond) to long tasks. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800];
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800];
/** How many characters of a job id hold its batch's creation time (ms, base 36; see src/ids.ts). */
const BATCH_TIME_CHARS = 9;

/** What this node counted for one queue (plain numbers: the hot path only adds). */
class QueueTally {
  submitted = 0;
  readonly finished: Record<JobOutcome, number> = { ok: 0, error: 0, cancelled: 0, timeout: 0, lost: 0 };
  constructor(readonly duration: HistogramSeries, readonly wait: HistogramSeries) {}
}

/**
 * The node's Prometheus metrics (docs/metrics.md), in a registry of its own whose every
 * series carries `node`. The hooks the actors call add to plain numbers and bucket arrays;
 * prom-client's counters are brought up to date when scraped, and the cluster-wide gauges
 * (queue lengths, servers up) are read then.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private readonly tallies = new Map<string, QueueTally>();
  /** the last queue name looked up and its tally: jobs come in runs of one queue */
  private lastQueue?: string;
  private lastTally?: QueueTally;
  /** whether `lastQueue` is a host queue (`q|node`) */
  private lastIsHostQueue = false;
  private readonly routed: Record<LocalityChoice, number> = { first: 0, later: 0, shared: 0 };
  /** lookups of jobs' queues in Redis still under way (a scrape waits for them) */
  private readonly lookups = new Set<Promise<void>>();
  private readonly duration: FastHistogram;
  private readonly wait: FastHistogram;
  private readonly copied: Counter<'from' | 'to'>;

  constructor(nodeName: string, private readonly store: Store, private readonly probes: MetricsProbes) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeName });
    collectDefaultMetrics({ register: this.registry });
    this.duration = new FastHistogram({
      name: 'ks_job_duration_seconds',
      help: 'How long jobs ran on their worker thread (from claim to outcome when the thread did not report it), by queue',
      labelName: 'queue',
      buckets: DURATION_BUCKETS,
      registry: this.registry,
    });
    this.wait = new FastHistogram({
      name: 'ks_job_wait_seconds',
      help: 'Time from submit (the batch id\'s clock) to the claim that started the job on this node, by queue',
      labelName: 'queue',
      buckets: WAIT_BUCKETS,
      registry: this.registry,
    });
    const tallies = this.tallies;
    const submitted = new Counter({
      name: 'ks_jobs_submitted_total',
      help: 'Jobs submitted through this node, by the queue asked for',
      labelNames: ['queue'],
      registers,
      collect() {
        submitted.reset();
        for (const [queue, tally] of tallies) submitted.inc({ queue }, tally.submitted);
      },
    });
    const finished = new Counter({
      name: 'ks_jobs_finished_total',
      help: 'Jobs this node ran to an outcome (ok, error, timeout), cancelled, or found lost, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      registers,
      collect() {
        finished.reset();
        for (const [queue, tally] of tallies) for (const outcome of JOB_OUTCOMES) finished.inc({ queue, outcome }, tally.finished[outcome]);
      },
    });
    const routed = this.routed;
    const routedCounter = new Counter({
      name: 'ks_locality_routed_total',
      help: 'Jobs this node claimed, by which of their queues: their first choice (a host queue), a later choice, or the shared queue',
      labelNames: ['choice'],
      registers,
      collect() {
        routedCounter.reset();
        for (const choice of LOCALITY_CHOICES) routedCounter.inc({ choice }, routed[choice]);
      },
    });
    this.copied = new Counter({
      name: 'ks_data_copied_bytes_total',
      help: 'Bytes of verified data copies between nodes that this node took part in (task fetches: counted by the receiver; replication hops: by the sender)',
      labelNames: ['from', 'to'],
      registers,
    });
    new Gauge({
      name: 'ks_queue_waiting',
      help: 'Copies of jobs waiting in each queue (cluster-wide: every node exports the same value; use max by (queue))',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.reset();
        const waiting = await bounded(probes.queueWaiting());
        if (waiting) for (const [queue, n] of Object.entries(waiting)) this.set({ queue }, n);
      },
    });
    new Gauge({
      name: 'ks_threads',
      help: 'Worker threads of this node, busy or idle',
      labelNames: ['state'],
      registers,
      async collect() {
        const threads = await bounded(probes.threads());
        if (threads) {
          this.set({ state: 'busy' }, threads.busy);
          this.set({ state: 'idle' }, threads.idle);
        }
      },
    });
    new Gauge({
      name: 'ks_data_bytes_held',
      help: 'Bytes of data this node holds, by storage tier',
      labelNames: ['tier'],
      registers,
      async collect() {
        const [disk, memory] = await Promise.all([bounded(probes.diskBytesHeld()), bounded(probes.memoryBytesHeld())]);
        if (disk !== undefined) this.set({ tier: 'disk' }, disk);
        if (memory !== undefined) this.set({ tier: 'memory' }, memory);
      },
    });
    new Gauge({
      name: 'ks_redis_up',
      help: `1 when Redis answered this node's PING within ${PROBE_TIMEOUT_MS} ms`,
      registers,
      async collect() {
        this.set((await bounded(probes.redisUp())) === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ks_nats_up',
      help: `1 when NATS answered this node's flush (PING) within ${PROBE_TIMEOUT_MS} ms`,
      registers,
      async collect() {
        this.set((await bounded(probes.natsUp())) === true ? 1 : 0);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition, once the jobs' queue lookups under way have settled. */
  async exposition(): Promise<string> {
    await bounded(Promise.all([...this.lookups]));
    return this.registry.metrics();
  }

  /** Whether Redis and NATS answer (for /readyz). */
  async readiness(): Promise<{ ready: boolean; redis: boolean; nats: boolean }> {
    const [redis, nats] = await Promise.all([bounded(this.probes.redisUp()), bounded(this.probes.natsUp())]);
    return { ready: redis === true && nats === true, redis: redis === true, nats: nats === true };
  }

  // ---- hooks the actors call -------------------------------------------------------

  /** A submit was accepted (Scheduler): each call counts under the queue it asked for. */
  jobsSubmitted(calls: readonly { queue?: string }[]): void {
    for (const call of calls) this.tally(call.queue ?? 'default').submitted++;
  }

  /** A `callWith({ async: false })` call reached the executor. */
  directSubmitted(): void {
    this.tally(DIRECT_QUEUE).submitted++;
  }

  /**
   * Jobs claimed by this node start (`adopted`: claimed by the head's Scheduler while it
   * enqueued them, always from their first-choice queue). Observes their wait and counts
   * their locality choice; for jobs claimed from one of this node's host queues, which choice
   * that was is read from the job's `queues` in Redis (one HGET each, sent in this tick's write).
   */
  jobsStarted(jobs: readonly ClaimedJob[], adopted: boolean): void {
    const now = Date.now();
    let fromHostQueue: ClaimedJob[] | undefined;
    // Jobs of one claim mostly come from one batch: its time is parsed once.
    let timePrefix = '';
    let wait = -1;
    for (const job of jobs) {
      const tally = this.tally(job.queue);
      if (timePrefix === '' || !job.id.startsWith(timePrefix)) {
        timePrefix = job.id.slice(0, BATCH_TIME_CHARS);
        const submittedAt = parseInt(timePrefix, 36);
        wait = submittedAt > 0 && submittedAt <= now ? (now - submittedAt) / 1000 : -1;
      }
      if (wait >= 0) tally.wait.observe(wait);
      if (!this.lastIsHostQueue) this.routed.shared++;
      else if (adopted) this.routed.first++;
      else (fromHostQueue ??= []).push(job);
    }
    if (fromHostQueue) this.track(this.countChoices(fromHostQueue));
  }

  /**
   * A job this node ran has its outcome. `failedWith`: the error's name (undefined when it
   * succeeded); a TimeoutError the thread did not report itself (no `ranMs`) is a timeout.
   */
  jobFinished(queue: string, failedWith: string | undefined, ranMs: number | undefined, claimedAt: number): void {
    const tally = this.tally(queue || DIRECT_QUEUE);
    if (failedWith === undefined) tally.finished.ok++;
    else if (failedWith === 'TimeoutError' && ranMs === undefined) tally.finished.timeout++;
    else tally.finished.error++;
    tally.duration.observe((ranMs ?? performance.now() - claimedAt) / 1000);
  }

  /** Jobs this node cancelled (they were queued or running) or found lost: counted by their queue, read from Redis. */
  jobsEnded(ids: readonly string[], outcome: 'cancelled' | 'lost'): void {
    if (ids.length === 0) return;
    this.track(this.queuesOf(ids).then((lists) => {
      for (const list of lists) if (list) this.tally(list.split(',')[0]).finished[outcome]++;
    }));
  }

  /** A verified copy of `bytes` went from node `from` to node `to`. */
  dataCopied(from: string, to: string, bytes: number): void {
    this.copied.inc({ from, to }, bytes);
  }

  // ---- internals -------------------------------------------------------------------

  /** The tally of a queue, by its base name (`q|node` counts under `q`). */
  private tally(queue: string): QueueTally {
    if (queue === this.lastQueue) return this.lastTally!;
    const host = parseHostQueue(queue);
    const base = host?.queue ?? queue;
    let tally = this.tallies.get(base);
    if (!tally) {
      tally = new QueueTally(this.duration.child(base), this.wait.child(base));
      this.tallies.set(base, tally);
    }
    this.lastQueue = queue;
    this.lastTally = tally;
    this.lastIsHostQueue = host !== null;
    return tally;
  }

  private async countChoices(jobs: readonly ClaimedJob[]): Promise<void> {
    const lists = await this.queuesOf(jobs.map((job) => job.id));
    jobs.forEach((job, i) => {
      const rank = lists[i]?.split(',').indexOf(job.queue) ?? -1;
      if (rank === 0) this.routed.first++;
      else if (rank > 0) this.routed.later++;
    });
  }

  private queuesOf(ids: readonly string[]): Promise<(string | null)[]> {
    return this.store.jobs.queueLists(ids);
  }

  private track(lookup: Promise<void>): void {
    const settled = lookup.catch(() => undefined).finally(() => this.lookups.delete(settled));
    this.lookups.add(settled);
  }
}

/** The probe's answer, or undefined when it failed or took longer than PROBE_TIMEOUT_MS. */
async function bounded<T>(probe: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([probe.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
