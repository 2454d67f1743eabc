import type { RemoteData } from '../remote-data.js';
import type { Future } from './future.js';

/** The types of a call's function, arguments and result, for the Client's methods. */
export type Fn = (...args: never[]) => unknown;
/** The registered names a `Client<M>` knows (M: the node's module, `typeof import('./functions.js')`); any string without M. */
export type NameOf<M> = [keyof M] extends [never] ? string : { [K in keyof M]: M[K] extends Fn ? K : never }[keyof M] & string;
/** A call's parameters are checked at the call site, for a shipped function and a name of M; another name takes any arguments. */
export type ArgsOf<F, M = Record<never, never>> = F extends Fn ? Parameters<F> : F extends keyof M ? (M[F] extends Fn ? Parameters<M[F]> : unknown[]) : unknown[];
export type ResultOf<F, M = Record<never, never>> = F extends Fn ? Awaited<ReturnType<F>> : F extends keyof M ? (M[F] extends Fn ? Awaited<ReturnType<M[F]>> : unknown) : unknown;
export type ItemOf<F, M = Record<never, never>> = ArgsOf<F, M> extends [infer Item, ...unknown[]] ? Item : unknown;
/** A value, or one whose array items or plain-object fields may be futures of their types. */
export type OneLevel<T> = T extends readonly (infer E)[]
  ? T | (E | Future<E>)[]
  : T extends ((...args: never[]) => unknown) | ArrayBufferView | Date | Map<unknown, unknown> | Set<unknown> | RemoteData
    ? T
    : T extends object ? T | { [P in keyof T]: T[P] | Future<T[P]> } : T;
/** Arguments where a future of a parameter's type may stand for it, at the top level or one level inside (the job then depends on it). */
export type WithFutures<A extends unknown[]> = { [K in keyof A]: OneLevel<A[K]> | Future<A[K]> };
