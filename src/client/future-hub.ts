import { DependencyFailed, KsError, RemoteError } from '../errors.js';
import type { BulkCallResponse } from '../protocol.js';
import { Future, type FutureControl } from './future.js';

/** A recorded call: only its arguments matter here (futures among them are inputs). */
export interface HubCall {
  args: unknown[];
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/** The client's existing paths the hub builds on (architecture §3: the batch protocol). */
export interface FutureBackend<C extends HubCall> {
  /** one all-or-nothing submit of `calls` (POST /rpc/bulkcall with a submitId, on any node) */
  submit(calls: C[]): Promise<BulkCallResponse>;
  /**
   * Streams the outcomes of `ids` (`/rpc/bulkstatus` of `batch`, or `/rpc/results` for ids of
   * several batches), each handed to `onOutcome` once; resolves when every id has one.
   */
  collect(batch: string | undefined, ids: string[], onOutcome: (id: string, outcome: Outcome) => void): Promise<void>;
  cancel(id: string): Promise<void>;
  status(id: string): Promise<Record<string, unknown>>;
}

/** Result streams open at once; the client's connection pool (16) keeps room for other requests. */
const MAX_STREAMS = 4;
/** A stream that breaks off is opened again (through `/rpc/results`) this many times. */
const STREAM_RETRIES = 3;

interface Waiting {
  batch?: string;
  ids: string[];
  tries: number;
}

/**
 * The client's futures: submits made in one tick go out as one batch (microtask batching),
 * and the outcomes of every submitted job are streamed back at once, through at most
 * MAX_STREAMS streams (batches that wait for a stream share the next one). Futures passed as
 * arguments are resolved here, at the client: the dependent job is submitted once its
 * inputs' values arrived (docs/futures.md says what that costs).
 */
export class FutureHub<C extends HubCall> {
  private tick: { call: C; future: Future<unknown> }[] = [];
  private flushScheduled: false | 'microtask' | 'immediate' = false;
  private readonly byId = new Map<string, Future<unknown>>();
  private readonly waiting: Waiting[] = [];
  private streams = 0;
  /** futures whose call waits for its inputs here, not submitted yet */
  private readonly awaitingInputs = new Set<Future<unknown>>();
  readonly control: FutureControl;

  constructor(private readonly backend: FutureBackend<C>) {
    this.control = {
      cancel: (id) => backend.cancel(id),
      status: (id) => backend.status(id),
      released: () => undefined,
      cancelUnsubmitted: (future) => this.awaitingInputs.delete(future),
    };
  }

  /** A future for `call`, sent with the other submits of this tick. */
  submit<T>(call: C): Future<T> {
    const future = new Future<unknown>(this.control);
    const inputs = futureInputs(call.args);
    if (inputs.length === 0) {
      this.enqueue(call, future);
      return future as Future<T>;
    }
    checkInputs(inputs);
    void this.afterInputs(call, future, inputs);
    return future as Future<T>;
  }

  /** A future for a job submitted earlier (by any client). */
  reattach<T>(id: string): Future<T> {
    const known = this.byId.get(id);
    if (known) return known as Future<T>;
    const future = new Future<unknown>(this.control, id);
    this.track(id, future);
    this.waiting.push({ ids: [id], tries: 0 });
    this.pump();
    return future as Future<T>;
  }

  private async afterInputs(call: C, future: Future<unknown>, inputs: Future<unknown>[]): Promise<void> {
    this.awaitingInputs.add(future);
    let args: unknown[] | undefined;
    let failure: Error | undefined;
    try {
      args = await valuesOfInputs(call.args, inputs);
    } catch (error) {
      failure = error as Error;
    }
    if (!this.awaitingInputs.delete(future)) return; // cancelled meanwhile
    if (failure) {
      future.submitFailed(failure);
      return;
    }
    call.args = args!;
    this.enqueue(call, future, true);
  }

  /**
   * Adds a call to this tick's submit. Dependents whose inputs just arrived (`later`) wait for
   * the end of the event-loop turn instead: the inputs of one frame of outcomes settle over
   * several microtasks, and their dependents then still go out as one batch.
   */
  private enqueue(call: C, future: Future<unknown>, later = false): void {
    this.tick.push({ call, future });
    if (this.flushScheduled === 'microtask' || (later && this.flushScheduled === 'immediate')) return;
    if (later) {
      this.flushScheduled = 'immediate';
      setImmediate(() => this.flush());
    } else {
      this.flushScheduled = 'microtask';
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const entries = this.tick;
    this.tick = [];
    if (entries.length === 0) return;
    this.backend.submit(entries.map((e) => e.call)).then(({ batch, ids }) => {
      entries.forEach(({ future }, i) => {
        future.accepted(ids[i]);
        this.track(ids[i], future);
      });
      this.waiting.push({ batch, ids, tries: 0 });
      this.pump();
    }, (error: Error) => {
      for (const { future } of entries) future.submitFailed(error);
    });
  }

  private track(id: string, future: Future<unknown>): void {
    this.byId.set(id, future);
    future.onSettled(() => this.byId.delete(id));
  }

  /** Opens a stream for what waits (one batch: its own stream; several: one `/rpc/results`). */
  private pump(): void {
    while (this.streams < MAX_STREAMS && this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.waiting.length);
      const ids = group.flatMap((g) => g.ids).filter((id) => this.byId.has(id));
      if (ids.length === 0) continue;
      const batch = group.length === 1 ? group[0].batch : undefined;
      const tries = Math.max(...group.map((g) => g.tries));
      this.streams++;
      this.backend.collect(batch, ids, (id, outcome) => this.byId.get(id)?.settle(outcome)).catch((error: Error) => {
        const left = ids.filter((id) => this.byId.has(id));
        if (left.length === 0) return;
        if (tries < STREAM_RETRIES) {
          this.waiting.push({ ids: left, tries: tries + 1 });
          return;
        }
        for (const id of left) this.byId.get(id)?.settle({ ok: false, error });
      }).finally(() => {
        this.streams--;
        this.pump();
      });
    }
  }
}

/**
 * The arguments with each future input replaced by its value, once every input finished;
 * throws DependencyFailed for an input that failed (or was cancelled).
 */
export async function resolveInputs(args: unknown[]): Promise<unknown[]> {
  const inputs = futureInputs(args);
  if (inputs.length === 0) return args;
  checkInputs(inputs);
  return valuesOfInputs(args, inputs);
}

/** A released input whose value this client does not hold cannot feed a job: an error at submit. */
function checkInputs(inputs: readonly Future<unknown>[]): void {
  for (const input of inputs) {
    if (input.released && !input.heldValue()) {
      throw new KsError('bad_request', `a future passed as an argument was released${input.jobId ? ` (job ${input.jobId})` : ''}: its result is no longer held for dependents; keep the future (or its value) to pass it on`);
    }
  }
}

async function valuesOfInputs(args: unknown[], inputs: readonly Future<unknown>[]): Promise<unknown[]> {
  await Promise.all(inputs.map((input) => new Promise<void>((resolve) => input.onSettled(resolve))));
  for (const input of inputs) {
    try {
      await input.result();
    } catch (error) {
      throw dependencyFailed(input, error);
    }
  }
  const held = new Map(inputs.map((input) => [input, input.heldValue()]));
  const missing = inputs.find((input) => !held.get(input));
  if (missing) throw new KsError('bad_request', `input job ${missing.jobId} was released before its dependent was submitted: its value is gone`);
  return substitute(args, (input) => held.get(input)!.value);
}

/** Futures among the arguments: top level, or one level inside an array or plain object. */
export function futureInputs(args: readonly unknown[]): Future<unknown>[] {
  const found = new Set<Future<unknown>>();
  const visit = (value: unknown, depth: number) => {
    if (value instanceof Future) found.add(value);
    else if (depth === 0 && Array.isArray(value)) for (const item of value) visit(item, 1);
    else if (depth === 0 && isPlainObject(value)) for (const item of Object.values(value)) visit(item, 1);
  };
  for (const arg of args) visit(arg, 0);
  return [...found];
}

function substitute(args: unknown[], valueOf: (future: Future<unknown>) => unknown): unknown[] {
  const one = (value: unknown): unknown => (value instanceof Future ? valueOf(value) : value);
  return args.map((arg) => {
    if (arg instanceof Future) return valueOf(arg);
    if (Array.isArray(arg)) return arg.some((v) => v instanceof Future) ? arg.map(one) : arg;
    if (isPlainObject(arg) && Object.values(arg).some((v) => v instanceof Future)) {
      return Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, one(v)]));
    }
    return arg;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function dependencyFailed(input: Future<unknown>, error: unknown): DependencyFailed {
  const id = input.jobId ?? '(not submitted)';
  const name = error instanceof RemoteError ? error.remoteName : error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new DependencyFailed(id, { name: 'DependencyFailed', message: `input job ${id} failed: ${name}: ${message}` });
}
