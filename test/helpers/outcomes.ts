import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transport } from '../../src/client/transport.js';
import { decode } from '../../src/codec.js';
import type { RemoteErrorInfo } from '../../src/errors.js';
import { batchOfJob } from '../../src/ids.js';
import type { JobEvent } from '../../src/protocol.js';
import { startServices, type Services } from './cluster.js';

/** Every outcome the head delivers for a batch (br() stops at the first failure; this does not). */
export interface Outcomes {
  /** value of each job that succeeded */
  done: Map<string, unknown>;
  /** error of each job that failed */
  failed: Map<string, RemoteErrorInfo>;
  /** ids whose outcome came more than once */
  duplicated: string[];
}

/** Streams `/rpc/bulkstatus` for the ids of one batch until each has its outcome. */
export async function collectOutcomes(nodeUrl: string, ids: readonly string[]): Promise<Outcomes> {
  const transport = new Transport(nodeUrl);
  const out: Outcomes = { done: new Map(), failed: new Map(), duplicated: [] };
  try {
    for await (const events of transport.stream<JobEvent[]>('rpc/bulkstatus', { batch: batchOfJob(ids[0]), ids })) {
      for (const event of events) {
        if (event.type === 'output') continue;
        if (out.done.has(event.id) || out.failed.has(event.id)) out.duplicated.push(event.id);
        if (event.type === 'done') out.done.set(event.id, decode(event.result));
        else out.failed.set(event.id, event.error);
      }
    }
  } finally {
    await transport.close();
  }
  return out;
}

/**
 * A temp dir where tasks append one line per run (`node:fs` appendFileSync: one write, so
 * lines of concurrent tasks do not interleave): how a test counts executions.
 */
export function sideEffects(): { dir: string; lines(): string[]; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ks-runs-'));
  return {
    dir,
    lines() {
      try {
        return readFileSync(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** NATS (from startServices) with another Redis: one the test can hurt. */
export async function servicesWithRedis(redisUrl: string): Promise<Services> {
  const services = await startServices();
  return { ...services, redisUrl };
}
