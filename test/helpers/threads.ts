import type { ExecutionContext } from 'ava';
import type { Client } from '../../index.js';

/** A task: sleeps `ms` and returns the id of the worker thread it ran on. */
export const threadAfter = async (ms: number): Promise<number> => {
  const { threadId } = await import('node:worker_threads');
  await new Promise((r) => setTimeout(r, ms));
  return threadId;
};

/**
 * The node still serves on every thread: `workers` concurrent sleeps land on `workers`
 * distinct threads, a small map still computes, and nothing is left running.
 */
export async function everyThreadServes(t: ExecutionContext, c: Client, workers: number): Promise<void> {
  for (let i = 0; i < workers; i++) c.bc(threadAfter, 400);
  const threads = (await c.br()) as number[];
  t.is(new Set(threads).size, workers, `threads ${threads.join(', ')}`);
  t.deepEqual(await c.map((x: number) => x * 2, [1, 2, 3, 4]), [2, 4, 6, 8]);
  t.is((await c.nodeStatus()).executor.active, 0);
}
