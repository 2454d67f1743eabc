import { KsError, CancelledError } from '../errors.js';

/** What `Future.status()` answers. */
export interface FutureStatus {
  id: string;
  /**
   * `queued` (also while waiting for a retry's delay), `running`, or the outcome: `done`,
   * `failed`, `cancelled`. Once the outcome reached this client, `delivered` is true and the
   * cluster no longer holds the job.
   */
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  /** runs so far, counting the one under way: lost-node re-queues and retries each add one */
  attempt: number;
  /** the node running (or that ran) the job, when the cluster still knows it */
  node: string | null;
  delivered: boolean;
}

/** What a Future asks of the client that made it. */
export interface FutureControl {
  cancel(id: string): Promise<void>;
  status(id: string): Promise<Record<string, unknown>>;
  /** the future gave up its result: the client keeps no value for it */
  released(future: Future<unknown>): void;
  /** true when the future waits for its inputs and was not submitted: it never will be */
  cancelUnsubmitted(future: Future<unknown>): boolean;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

interface Settlers {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

const noop = () => undefined;

/** Nobody has to look at a future: its failure is never an unhandled rejection. */
function quiet<P extends Promise<unknown>>(promise: P): P {
  promise.catch(noop);
  return promise;
}

/**
 * A job's result to come (architecture §3; docs/futures.md): thenable, so `await future`
 * gives the result or throws the job's RemoteError. Made by `c.submit`, `c.submitWith` and
 * `c.future(jobId)`.
 */
export class Future<T> implements PromiseLike<T> {
  private knownId?: string;
  private submitError?: Error;
  private outcome?: Outcome<T>;
  private isReleased = false;
  // Promises are made only when asked for (20,000 submits need no 40,000 promises); their
  // settle functions take unknown, not T, so that the class stays covariant in T.
  private idPromise?: Promise<string>;
  private idWaiter?: Settlers;
  private resultPromise?: Promise<T>;
  private resultWaiter?: Settlers;
  private readonly listeners: (() => void)[] = [];

  /** @internal made by the client */
  constructor(private readonly control: FutureControl, id?: string) {
    if (id !== undefined) this.knownId = id;
  }

  /** the job id, once the cluster accepted the job (rejects when its submit failed) */
  get id(): Promise<string> {
    this.idPromise ??= this.knownId !== undefined
      ? Promise.resolve(this.knownId)
      : this.submitError
        ? quiet(Promise.reject(this.submitError))
        : quiet(new Promise<string>((resolve, reject) => (this.idWaiter = { resolve: resolve as Settlers['resolve'], reject })));
    return this.idPromise;
  }

  /** The job id when known (synchronously), else undefined. */
  get jobId(): string | undefined {
    return this.knownId;
  }

  /** True once the outcome arrived (or the submit failed). */
  get done(): boolean {
    return this.outcome !== undefined;
  }

  /** True once `release()` was called. */
  get released(): boolean {
    return this.isReleased;
  }

  /** The result; throws the job's RemoteError, or a KsError when the submit failed. */
  result(): Promise<T> {
    if (this.isReleased && this.outcome?.ok) {
      return Promise.reject(new KsError('bad_request', `the result of job ${this.knownId} was released`));
    }
    if (!this.resultPromise) {
      const { outcome } = this;
      this.resultPromise = quiet(outcome
        ? (outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error))
        : new Promise<T>((resolve, reject) => (this.resultWaiter = { resolve: resolve as Settlers['resolve'], reject })));
    }
    return this.resultPromise;
  }

  then<R1 = T, R2 = never>(onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return this.result().then(onfulfilled, onrejected);
  }

  /**
   * Cancels the job (queued or running); the future then fails with CancelledError. A future
   * still waiting for its inputs at the client is cancelled there: it is never submitted.
   */
  async cancel(): Promise<void> {
    if (this.outcome) return;
    if (this.knownId === undefined && this.control.cancelUnsubmitted(this as Future<unknown>)) {
      const error = new CancelledError('(not submitted)', { name: 'CancelledError', message: 'cancelled before it was submitted (it was waiting for its inputs)' });
      this.submitFailed(error);
      return;
    }
    await this.control.cancel(await this.id);
  }

  /** Where the job is: queued, running, or its outcome (see FutureStatus). */
  async status(): Promise<FutureStatus> {
    const id = await this.id;
    if (!this.outcome) {
      try {
        const record = await this.control.status(id);
        return {
          id,
          state: record.status as FutureStatus['state'],
          attempt: Number(record.attempt ?? 1),
          node: (record.node as string | null) ?? null,
          delivered: false,
        };
      } catch (error) {
        // Delivered to this client between the two reads: the local outcome answers.
        if (!(error instanceof KsError && error.code === 'not_found') || !this.outcome) throw error;
      }
    }
    const outcome = this.outcome!;
    const state = outcome.ok ? 'done' : outcome.error instanceof CancelledError ? 'cancelled' : 'failed';
    return { id, state, attempt: 0, node: null, delivered: true };
  }

  /**
   * Gives up the result: the client drops its value (and drops it on arrival when the job
   * has not finished); the future can no longer be awaited for a value or passed as an input.
   */
  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    if (this.outcome?.ok) this.outcome = { ok: true, value: undefined as T };
    this.control.released(this as Future<unknown>);
  }

  /** @internal the value, when this client holds it */
  heldValue(): { value: T } | undefined {
    return this.outcome?.ok && !this.isReleased ? { value: this.outcome.value } : undefined;
  }

  /** @internal runs `listener` once the outcome is known (at once when it is); returns a function that drops it */
  onSettled(listener: () => void): () => void {
    if (this.outcome) {
      listener();
      return noop;
    }
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** @internal the cluster accepted the job */
  accepted(id: string): void {
    this.knownId = id;
    this.idWaiter?.resolve(id);
  }

  /** @internal the job's outcome arrived */
  settle(outcome: Outcome<T>): void {
    if (this.outcome) return;
    this.outcome = outcome.ok && this.isReleased ? { ok: true, value: undefined as T } : outcome;
    if (this.resultWaiter) {
      if (this.outcome.ok) this.resultWaiter.resolve(this.outcome.value);
      else this.resultWaiter.reject(this.outcome.error);
      this.resultWaiter = undefined;
    }
    for (const listener of this.listeners.splice(0)) listener();
  }

  /** @internal the submit failed: no job exists */
  submitFailed(error: Error): void {
    this.submitError = error;
    this.idWaiter?.reject(error);
    this.settle({ ok: false, error });
  }
}

/** The result type of a future. */
export type FutureValue<F> = F extends Future<infer T> ? T : never;

/** `c.gather(futures, { errors: 'settle' })`'s entries. */
export type SettledFuture<T> = PromiseSettledResult<T>;
