import { setMaxListeners } from 'node:events';
import { Redis } from 'ioredis';
import { Client } from '../../index.js';
import { startChaosCluster, type ChaosCluster } from './cluster.js';
import type { Features } from './features.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { tally, type Tally } from './tally.js';
import { untilAborted, Workload } from './workload.js';

export type ScenarioStatus = 'ok' | 'timed out' | 'n/a' | 'error';

export interface ScenarioResult {
  scenario: string;
  title: string;
  expect: string;
  status: ScenarioStatus;
  /** why n/a, or the error */
  reason?: string;
  tally?: Tally;
  /** jobs still queued or running in Redis once the scenario ended */
  stuck?: number;
  recoverMs?: number;
  recoverWhat?: string;
  /** what did not hold: the generic counts and the scenario's own checks */
  violations: string[];
  notes: string[];
  seconds: number;
}

/**
 * Runs one scenario on a fresh cluster, within its time limit; whatever happens, counts what
 * was submitted, delivered and executed, then stops every process it started.
 */
export async function runScenario(scenario: Scenario, jobs: number, features: Features): Promise<ScenarioResult> {
  const base = { scenario: scenario.name, title: scenario.title, expect: scenario.expect };
  const reason = scenario.unsupported?.(features);
  if (reason) return { ...base, status: 'n/a', reason, violations: [], notes: [], seconds: 0 };
  const t0 = Date.now();
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per open result stream and wait
  let cluster: ChaosCluster | undefined;
  let client: Client | undefined;
  try {
    cluster = await startChaosCluster(scenario.cluster?.(features, jobs));
    const urls = scenario.client?.urls === 'all' ? cluster.nodes.slice(0, 2).map((n) => n.url) : [cluster.nodes[0].url];
    const clientOptions = { output: 'silent' as const, ...(scenario.client?.requestTimeoutMs ? { requestTimeoutMs: scenario.client.requestTimeoutMs } : {}) };
    client = new Client((urls.length > 1 ? urls : urls[0]) as string, clientOptions);
    const workload = new Workload(client, cluster.nodes[0].url, cluster.dir, controller.signal, scenario.collect !== false);
    const notes: string[] = [];
    const violations: string[] = [];
    let recoverMs: number | undefined;
    let recoverWhat: string | undefined;
    const ctx: ScenarioContext = {
      cluster, workload, client, jobs, features, signal: controller.signal,
      recovered: (ms, what) => {
        recoverMs = ms === undefined ? undefined : Math.round(ms);
        recoverWhat = what;
      },
      note: (text) => void notes.push(text),
      violation: (text) => void violations.push(text),
    };
    const timer = setTimeout(() => controller.abort(), scenario.limitMs);
    let status: ScenarioStatus = 'ok';
    let error: string | undefined;
    try {
      const outcome = await Promise.race([scenario.run(ctx).then(() => 'done' as const), untilAborted(controller.signal).then(() => 'timeout' as const)]);
      if (outcome === 'timeout') status = 'timed out';
    } catch (e) {
      status = 'error';
      error = (e as Error).stack ?? String(e);
    } finally {
      clearTimeout(timer);
      controller.abort(); // ends the result streams still open
    }
    if (status === 'timed out') violations.push(`timed out after ${scenario.limitMs / 1000} s`);
    const counts = tally(workload.batches, workload.deliveries, workload.readLedger(), workload.collectErrors);
    const stuck = await stuckJobs(cluster.redis.url);
    violations.unshift(...genericViolations(counts, stuck));
    return { ...base, status, reason: error, tally: counts, stuck, recoverMs, recoverWhat, violations, notes, seconds: Math.round((Date.now() - t0) / 1000) };
  } catch (e) {
    return { ...base, status: 'error', reason: (e as Error).stack ?? String(e), violations: [], notes: [], seconds: Math.round((Date.now() - t0) / 1000) };
  } finally {
    controller.abort();
    if (client) await Promise.race([client.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    await cluster?.stop();
  }
}

function genericViolations(t: Tally, stuck: number | undefined): string[] {
  const out: string[] = [];
  if (t.lost > 0) out.push(`${t.lost} accepted jobs not delivered`);
  if (t.duplicatedDeliveries > 0) out.push(`${t.duplicatedDeliveries} delivered twice`);
  if (t.refusedRan > 0) out.push(`${t.refusedRan} jobs of failed submits ran`);
  if (stuck) out.push(`${stuck} jobs left queued/running`);
  return out;
}

/** Job records still `queued` or `running` (`{ks}:job:*`, no prefix), or undefined if Redis does not answer. */
async function stuckJobs(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  redis.on('error', () => undefined);
  const count = async () => {
    await redis.connect();
    let stuck = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', '{ks}:job:*', 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.hget(key, 'st');
      for (const [, st] of (await pipeline.exec()) ?? []) if (st === 'queued' || st === 'running') stuck++;
    } while (cursor !== '0');
    return stuck;
  };
  try {
    return await Promise.race([count(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

