/**
 * `ks start --router PATH` (alias `--scheduler`): the module's default export, told apart by
 * shape, never by `instanceof` (a module that loads another copy of kitchensink has classes
 * of its own): an object with the actor's `ask`/`tell` is a Scheduler, one with only
 * `route` is a Router, and a class is instantiated first, then looked at.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Router } from '../actors/scheduler/router.js';
import type { SchedulerActor } from '../actors/scheduler/scheduler.js';

export type Scheduling = { router: Router; scheduler?: undefined } | { scheduler: SchedulerActor; router?: undefined };

const isFunction = (value: unknown, key: string): boolean => typeof (value as Record<string, unknown>)[key] === 'function';

/** What `value` is, by shape; undefined when it is neither a Router nor a Scheduler. */
export function schedulingOf(value: unknown): Scheduling | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  if (isFunction(value, 'ask') && isFunction(value, 'tell') && isFunction(value, 'attach')) return { scheduler: value as SchedulerActor };
  if (isFunction(value, 'route') && !isFunction(value, 'ask') && !isFunction(value, 'tell')) return { router: value as Router };
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value !== 'object') return `a ${typeof value}`;
  const keys = Object.keys(value);
  return keys.length > 0 ? `an object with ${keys.slice(0, 5).join(', ')}` : 'an object with no route()';
}

const firstLine = (text: string): string => text.split('\n', 1)[0];

/** Loads PATH and returns its Router or Scheduler; throws one line saying what is wrong. */
export async function loadScheduling(path: string): Promise<Scheduling> {
  const flag = `--router ${path}`;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (error) {
    throw new Error(`${flag} could not be loaded: ${firstLine((error as Error).message ?? String(error))}`);
  }
  let exported = mod.default;
  // A class (a function with a prototype; arrow functions have none): instantiate, then look.
  if (typeof exported === 'function' && exported.prototype !== undefined && schedulingOf(exported) === undefined) {
    try {
      exported = new (exported as new () => unknown)();
    } catch (error) {
      throw new Error(`${flag}: new ${(mod.default as () => unknown).name || 'default export'}() failed: ${firstLine((error as Error).message ?? String(error))}`);
    }
  }
  const found = schedulingOf(exported);
  if (found) return found;
  throw new Error(`${flag}: the default export must be a Router (an object with route(call, cluster)) or a Scheduler (an actor with ask, tell and attach), or a class of either; found ${describe(exported)}`);
}
