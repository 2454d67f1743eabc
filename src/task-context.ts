import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a task runs; `signal` aborts when the job is cancelled or times out. */
export interface TaskContext {
  jobId: string;
  node: { name: string; url: string };
  queue: string;
  /**
   * Which run of the job this is: 1 the first time, 2 after it was re-queued once (its node
   * was lost or stopped while running it), and so on. A job may run more than once: make
   * its side effects safe to repeat, or skip what an earlier attempt did.
   */
  attempt: number;
  signal: AbortSignal;
}

export const taskStorage = new AsyncLocalStorage<TaskContext>();

/** Inside a task: the job and node it runs on. Outside a task it throws. */
export function taskContext(): TaskContext {
  const context = taskStorage.getStore();
  if (!context) throw new Error('taskContext() works only inside a task running on a kitchensink node');
  return context;
}
