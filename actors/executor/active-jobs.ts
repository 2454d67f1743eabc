import type { ActiveJob, TaskGroup } from './job-types.js';

/** The jobs this node claimed and has not finished, by id, and how many of them are long. */
export class ActiveJobs {
  private readonly byId = new Map<string, ActiveJob>();
  /** active jobs marked `long` */
  private longCount = 0;

  get size(): number {
    return this.byId.size;
  }

  /** How many active jobs are marked `long` (their threads get no prefetch). */
  get long(): number {
    return this.longCount;
  }

  get(id: string): ActiveJob | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<ActiveJob> {
    return this.byId.values();
  }

  add(active: ActiveJob): void {
    this.byId.set(active.id, active);
  }

  /** Whether `active` is still the job tracked under its id (not ended, not replaced). */
  has(active: ActiveJob): boolean {
    return this.byId.get(active.id) === active;
  }

  markLong(active: ActiveJob): void {
    if (active.long) return;
    active.long = true;
    this.longCount++;
  }

  /** Stops tracking the job; false when it was no longer tracked. */
  remove(active: ActiveJob): boolean {
    if (!this.has(active)) return false;
    this.byId.delete(active.id);
    if (active.long) this.longCount--;
    return true;
  }

  /** Jobs of a task run in order: the first one without an outcome is running (or the task has not started). */
  firstUnfinished(group: TaskGroup | undefined): ActiveJob | undefined {
    return group?.jobs.find((a) => this.has(a));
  }
}
