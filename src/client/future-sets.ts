import { KsError } from '../errors.js';
import type { Future } from './future.js';

export interface WaitOptions {
  /** 'first': as soon as one future is done (a failure counts); 'all' (default): when every one is */
  return?: 'first' | 'all';
  /** return after this many ms at most, whatever is done */
  timeoutMs?: number;
}

export interface WaitResult<F> {
  done: F[];
  pending: F[];
}

export interface GatherOptions {
  /** 'raise' (default): the first failure (in finishing order) is thrown; 'settle': every outcome, as Promise.allSettled shapes it */
  errors?: 'raise' | 'settle';
}

/**
 * The futures in the order they finish (failures included: awaiting one throws its error).
 * A hand-made iterator, not an async generator: `yield` would await a thenable future and
 * hand out its value instead.
 */
export function asCompleted<F extends Future<unknown>>(futures: Iterable<F>): AsyncIterableIterator<F> {
  const list = [...new Set(futures)];
  const finished: F[] = [];
  const waiters: ((result: IteratorResult<F>) => void)[] = [];
  let handedOut = 0;
  for (const future of list) {
    future.onSettled(() => {
      const waiter = waiters.shift();
      if (waiter) waiter({ value: future, done: false });
      else finished.push(future);
    });
  }
  const iterator: AsyncIterableIterator<F> = {
    next(): Promise<IteratorResult<F>> {
      if (handedOut >= list.length) return Promise.resolve({ value: undefined, done: true });
      handedOut++;
      const ready = finished.shift();
      if (ready) return Promise.resolve({ value: ready, done: false });
      return new Promise((resolve) => waiters.push(resolve));
    },
    return(): Promise<IteratorResult<F>> {
      handedOut = list.length;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** Waits for the first or all of `futures`, at most `timeoutMs`; never throws a job's failure. */
export async function wait<F extends Future<unknown>>(futures: Iterable<F>, options: WaitOptions = {}): Promise<WaitResult<F>> {
  const list = [...new Set(futures)];
  const mode = options.return ?? 'all';
  if (mode !== 'first' && mode !== 'all') throw new KsError('bad_request', `wait(): return is 'first' or 'all', not ${String(mode)}`);
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw new KsError('bad_request', `wait(): timeoutMs must be 0 or more, not ${timeoutMs}`);
  const enough = () => {
    const done = list.filter((f) => f.done).length;
    return mode === 'first' ? done > 0 || list.length === 0 : done === list.length;
  };
  if (!enough()) {
    const unsubscribes: (() => void)[] = [];
    await new Promise<void>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      for (const future of list) {
        unsubscribes.push(future.onSettled(() => {
          if (!enough()) return;
          clearTimeout(timer);
          resolve();
        }));
      }
    });
    // A loop of wait()s over long-lived futures leaves no listeners behind.
    for (const unsubscribe of unsubscribes) unsubscribe();
  }
  return { done: list.filter((f) => f.done), pending: list.filter((f) => !f.done) };
}

type Values<T extends readonly Future<unknown>[]> = { -readonly [K in keyof T]: T[K] extends Future<infer V> ? V : never };
type Settled<T extends readonly Future<unknown>[]> = { -readonly [K in keyof T]: T[K] extends Future<infer V> ? PromiseSettledResult<V> : never };

export function gather<const T extends readonly Future<unknown>[]>(futures: T, options: { errors: 'settle' }): Promise<Settled<T>>;
export function gather<const T extends readonly Future<unknown>[]>(futures: T, options?: { errors?: 'raise' }): Promise<Values<T>>;
export function gather<const T extends readonly Future<unknown>[]>(futures: T, options?: GatherOptions): Promise<Values<T> | Settled<T>>;
/** Every result, in the order given (typed as a tuple); see GatherOptions for failures. */
export async function gather<const T extends readonly Future<unknown>[]>(futures: T, options: GatherOptions = {}): Promise<Values<T> | Settled<T>> {
  const results = futures.map((f) => f.result());
  if ((options.errors ?? 'raise') === 'settle') return (await Promise.allSettled(results)) as Settled<T>;
  if (options.errors !== undefined && options.errors !== 'raise') throw new KsError('bad_request', `gather(): errors is 'raise' or 'settle', not ${String(options.errors)}`);
  return (await Promise.all(results)) as Values<T>;
}
