import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const LUA_DIR = new URL('../../../src/store/lua/', import.meta.url);

/**
 * Every Lua script (`lua/<name>.lua`) and the KEYS it takes: the one place their count is
 * declared (the convention, architecture §4 "Lua scripts"):
 *
 * - KEYS[1] is always the cluster's base, e.g. `{ks}:` (Keys.base). Keys named by what a call
 *   works on (a job, batch, submitId, queue, node or url: `job:<id>`, `q:<name>`,
 *   `running:<node>`, `data:info:<url>`...) are built inside the script as `KEYS[1] .. shape`,
 *   with the shapes of keys.ts, so a round of 1,000 jobs passes one key, not thousands.
 * - KEYS[2..] are the fixed keys listed here, as shapes under the base (the store passes
 *   `base + shape`); a shape in angle brackets is a key the caller names (a lock).
 *
 * Each script's header lists the same KEYS, `KEYS[i]  <shape>` (test/lua-convention.test.ts
 * holds the two in step). Every key shares the base's Redis Cluster hash tag, so a script's
 * keys, declared or built, lie in one slot.
 */
export const SCRIPT_KEYS = {
  beginBatch: [],
  enqueueJobs: ['queues'],
  commitBatch: [],
  abortBatch: [],
  claimJobs: [],
  finishJobs: [],
  cancelJobs: [],
  reapNode: ['queues', 'nodes'],
  failQueuedJobs: ['queues'],
  handBackJobs: ['queues'],
  recordHistory: ['hist', 'hist:failed', 'hist:data', 'hist:bytes'],
  claimData: ['data:dirs', 'data:claims'],
  renewDataClaim: ['data:claims'],
  commitData: ['data:held-bytes', 'data:claims'],
  releaseDataClaim: ['data:dirs', 'data:claims'],
  addDataHolder: ['data:held-bytes'],
  dropDataHolder: ['data:held-bytes', 'data:dirs'],
  renewOrReleaseLock: ['<lock>'],
  retryJob: ['queues'],
} as const satisfies Record<string, readonly string[]>;

export type ScriptName = keyof typeof SCRIPT_KEYS;
export const SCRIPTS = Object.keys(SCRIPT_KEYS) as ScriptName[];

/** How many KEYS the script takes: the base and its fixed keys. */
export function numberOfKeys(name: ScriptName): number {
  return 1 + SCRIPT_KEYS[name].length;
}

type Arg = string | number | Buffer | Uint8Array;

/** The scripts as ioredis commands (defined with their numberOfKeys): KEYS first, then ARGV. */
interface ScriptCommands {
  beginBatch(...args: Arg[]): Promise<string[]>;
  enqueueJobs(...args: Arg[]): Promise<number>;
  commitBatch(...args: Arg[]): Promise<string[]>;
  abortBatch(...args: Arg[]): Promise<string[]>;
  claimJobsBuffer(...args: Arg[]): Promise<[number, Buffer, number]>;
  finishJobs(...args: Arg[]): Promise<string[]>;
  cancelJobs(...args: Arg[]): Promise<string[]>;
  reapNode(...args: Arg[]): Promise<string[]>;
  failQueuedJobs(...args: Arg[]): Promise<string[]>;
  claimData(...args: Arg[]): Promise<string[]>;
  renewDataClaim(...args: Arg[]): Promise<number>;
  commitData(...args: Arg[]): Promise<number>;
  releaseDataClaim(...args: Arg[]): Promise<number>;
  addDataHolder(...args: Arg[]): Promise<number>;
  dropDataHolder(...args: Arg[]): Promise<number>;
  renewOrReleaseLock(...args: Arg[]): Promise<number>;
  handBackJobs(...args: Arg[]): Promise<string[]>;
  recordHistory(...args: Arg[]): Promise<unknown>;
  retryJob(...args: Arg[]): Promise<number>;
}

export type StoreRedis = Redis & ScriptCommands;

/** Defines every script on the connection as a command taking its declared number of KEYS. */
export function defineScripts(redis: Pick<Redis, 'defineCommand'>): void {
  for (const name of SCRIPTS) redis.defineCommand(name, { lua: loadScript(name), numberOfKeys: numberOfKeys(name) });
}

/**
 * The KEYS of each script for one cluster's base: `keys(name, ...named)` gives KEYS[1..N],
 * the angle-bracket shapes filled from `named` in order.
 */
export class ScriptKeys {
  private readonly fixed = new Map<ScriptName, string[]>();

  constructor(readonly base: string) {
    for (const name of SCRIPTS) {
      if (SCRIPT_KEYS[name].every((shape) => !shape.startsWith('<'))) {
        this.fixed.set(name, [base, ...SCRIPT_KEYS[name].map((shape) => base + shape)]);
      }
    }
  }

  keys(name: ScriptName, ...named: string[]): string[] {
    const fixed = this.fixed.get(name);
    if (fixed) return fixed;
    let next = 0;
    return [this.base, ...SCRIPT_KEYS[name].map((shape: string) => shape.startsWith('<') ? named[next++] : this.base + shape)];
  }
}

/** Reads `lua/<name>.lua`, replacing each `-- @include <part>` line with `lua/includes/<part>.lua`. */
export function loadScript(name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
  return source.replace(/^-- @include (\w+)$/gm, (_line, part: string) => readFileSync(new URL(`includes/${part}.lua`, LUA_DIR), 'utf8'));
}
