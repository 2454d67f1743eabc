import { decode } from '../../src/codec.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import { prepareSource } from '../../src/function-source.js';
import type { ClaimedJob } from '../../src/store/store.js';
import type { ActiveJobs } from './active-jobs.js';
import type { ExecutorDeps } from './executor-deps.js';
import type { JobOutcomes } from './job-outcomes.js';
import type { ActiveJob, DirectJob, JobOptions } from './job-types.js';
import type { TaskDispatcher } from './task-dispatcher.js';
import type { WorkerJob } from './worker-protocol.js';

export type JobIntakeDeps = Pick<ExecutorDeps, 'config' | 'store' | 'log' | 'metrics' | 'history'> & {
  jobs: ActiveJobs;
  dispatcher: TaskDispatcher;
  outcomes: JobOutcomes;
};

/**
 * Turns claimed jobs (from the claim loop, or adopted from the Scheduler's commit) and direct
 * calls into active jobs and dispatches them; shipped functions' sources are prepared once.
 */
export class JobIntake {
  private readonly prepared = new Map<string, string>();

  constructor(private readonly deps: JobIntakeDeps) {}

  async startClaimed(jobs: ClaimedJob[], given?: Record<string, string>, adopted = false): Promise<void> {
    const { store, metrics, log } = this.deps;
    const missing = [...new Set(jobs.filter((j) => j.kind === 'shipped' && !this.prepared.has(j.fn)).map((j) => j.fn))];
    const sourceErrors = new Map<string, RemoteErrorInfo>();
    if (missing.length > 0) {
      const sources = given ? missing.map((sha) => given[sha] ?? null) : await store.jobs.sources(missing);
      missing.forEach((sha, i) => {
        const source = sources[i];
        if (source == null) {
          sourceErrors.set(sha, { name: 'FunctionMissing', message: `the source of function ${sha.slice(0, 12)} is no longer in Redis` });
          return;
        }
        try {
          this.prepared.set(sha, prepareSource(source, ''));
        } catch (error) {
          sourceErrors.set(sha, { name: 'CompileError', message: (error as Error).message });
        }
      });
    }
    metrics?.jobsStarted(jobs, adopted);
    // Claimed jobs of one kind share their options' bytes (see Store.claim): decoded once.
    let optionBytes: Uint8Array | null = null;
    let decodedOptions: JobOptions = {};
    for (const claimed of jobs) {
      if (claimed.opts !== optionBytes) {
        optionBytes = claimed.opts;
        decodedOptions = optionBytes ? decode<JobOptions>(optionBytes) : {};
      }
      const options = decodedOptions;
      const sourceError = sourceErrors.get(claimed.fn);
      const job: WorkerJob = {
        id: claimed.id,
        fn: claimed.fn,
        registered: claimed.kind === 'registered',
        // no options stored: a registered function's name, or an anonymous shipped one (scheduler.ts)
        name: options.name ?? (claimed.kind === 'registered' ? claimed.fn : ''),
        args: claimed.args,
        queue: claimed.queue,
        attempt: claimed.attempts + 1,
        output: options.output !== false,
        each: options.each,
        env: options.env,
      };
      log.debug({ job: claimed.id, fn: job.name, queue: claimed.queue }, 'job claimed');
      const active = this.track(job, options, claimed.head, false, claimed.kind === 'shipped' ? this.prepared.get(claimed.fn) : undefined);
      if (sourceError) this.deps.outcomes.finish(active, { ok: false, error: sourceError });
      else this.deps.dispatcher.dispatch(active);
    }
  }

  runDirect(direct: DirectJob): void {
    this.deps.metrics?.directSubmitted();
    let prepared: string | undefined;
    if (!direct.registered) {
      prepared = this.prepared.get(direct.fn);
      if (!prepared) {
        prepared = prepareSource(direct.source ?? '', direct.options.name ?? '');
        this.prepared.set(direct.fn, prepared);
      }
    }
    const job: WorkerJob = {
      id: direct.id,
      fn: direct.fn,
      registered: direct.registered,
      name: direct.options.name ?? direct.fn,
      args: direct.args,
      queue: '',
      attempt: 1,
      output: direct.options.output !== false,
      each: direct.options.each,
      env: direct.options.env,
    };
    this.deps.dispatcher.dispatch(this.track(job, direct.options, this.deps.config.nodeName, true, prepared));
  }

  private track(job: WorkerJob, options: JobOptions, head: string, direct: boolean, prepared: string | undefined): ActiveJob {
    const active: ActiveJob = { id: job.id, job, options, head, direct, prepared, startedAt: performance.now() };
    this.deps.jobs.add(active);
    this.deps.history?.started(active);
    return active;
  }
}
