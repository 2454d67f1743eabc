import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const LUA_DIR = new URL('../../../src/store/lua/', import.meta.url);
export const SCRIPTS = [
  'beginBatch', 'enqueueJobs', 'commitBatch', 'abortBatch', 'claimJobs', 'finishJobs', 'cancelJobs', 'reapNode', 'failQueuedJobs',
  'claimData', 'renewDataClaim', 'commitData', 'releaseDataClaim', 'addDataHolder', 'dropDataHolder',
  'renewOrReleaseLock', 'handBackJobs', 'recordHistory', 'retryJob',
] as const;

type Arg = string | number | Buffer | Uint8Array;

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

/** Reads `lua/<name>.lua`, replacing each `-- @include <part>` line with `lua/includes/<part>.lua`. */
export function loadScript(name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
  return source.replace(/^-- @include (\w+)$/gm, (_line, part: string) => readFileSync(new URL(`includes/${part}.lua`, LUA_DIR), 'utf8'));
}
