import { Redis } from 'ioredis';
import type { Scenario, ScenarioContext } from './scenario.js';
import { runningOn, type LedgerEntry } from './side-effects.js';
import { sleep, untilAborted, waitFor } from './workload.js';

/** The batch before which a mid-workload fault starts (of 10). */
const FAULT_BATCH = 3;

/** Runs `fault` once, before batch FAULT_BATCH; `settled` resolves when the fault is over. */
function faultBefore(fault: () => Promise<void>): { beforeBatch: (i: number) => void; settled: () => Promise<void>; startedAt: () => number; endedAt: () => number } {
  let running: Promise<void> | undefined;
  let startedAt = 0;
  let endedAt = 0;
  return {
    beforeBatch: (i) => {
      if (i !== FAULT_BATCH) return;
      startedAt = Date.now();
      running = fault().finally(() => {
        endedAt = Date.now();
      });
    },
    settled: async () => {
      await running;
    },
    startedAt: () => startedAt,
    endedAt: () => endedAt,
  };
}

/** Submits 10 paced batches with `fault` before the 4th, waits for every outcome, reports the recovery. */
async function faultMidWorkload(ctx: ScenarioContext, fault: () => Promise<void>, ms = 0): Promise<void> {
  const f = faultBefore(fault);
  await ctx.workload.run({ jobs: ctx.jobs, batches: 10, ms, pauseMs: 150, beforeBatch: f.beforeBatch });
  await f.settled();
  await ctx.workload.settle();
  ctx.note(`fault from +${((f.startedAt() - ctx.workload.startedAt) / 1000).toFixed(1)} s for ${((f.endedAt() - f.startedAt()) / 1000).toFixed(1)} s`);
  ctx.recovered(ctx.workload.longestStallAfter(f.startedAt()), 'the longest pause in the flow of results from the fault\'s start on');
}

/** A fresh cluster uses ~1.5 MiB; room for about a third of the workload's job records (2 KB of arguments each). */
const maxmemoryFor = (jobs: number) => Math.round(1.5 * 2 ** 20 + Math.max(200 * 1024, (jobs * 2200) / 3));

const endsOf = (entries: LedgerEntry[], token: string) => entries.filter((e) => e.token === token && e.kind === 'end');
const startsOf = (entries: LedgerEntry[], token: string) => entries.filter((e) => e.token === token && e.kind === 'start');

export const scenarios: Scenario[] = [
  {
    name: 'redis-sleep',
    title: 'Redis DEBUG SLEEP 2.5 s mid-submit',
    expect: 'every accepted job delivered once, none reported lost',
    limitMs: 120_000,
    async run(ctx) {
      const debug = new Redis(ctx.cluster.redis.url, { maxRetriesPerRequest: 1 });
      try {
        await faultMidWorkload(ctx, async () => {
          await debug.call('DEBUG', 'SLEEP', '2.5');
        });
      } finally {
        debug.disconnect();
      }
    },
  },
  {
    name: 'redis-kill9',
    title: 'Redis kill -9, restart after 2 s (AOF always)',
    expect: 'every accepted job delivered once; a failed execute() ran nothing',
    limitMs: 150_000,
    async run(ctx) {
      const { redis } = ctx.cluster;
      await faultMidWorkload(ctx, async () => {
        await redis.kill9();
        await sleep(2000);
        await redis.restart();
      });
    },
  },
  {
    name: 'redis-maxmemory',
    title: 'Redis at maxmemory (noeviction)',
    expect: 'submits refused cleanly; a refused batch ran nothing; accepted ones delivered',
    limitMs: 120_000,
    // set at start, so that nodes see the limit when they start (a memory guard reads it)
    cluster: (_features, jobs) => ({ redisArgs: ['--maxmemory', String(maxmemoryFor(jobs)), '--maxmemory-policy', 'noeviction'] }),
    async run(ctx) {
      const admin = new Redis(ctx.cluster.redis.url, { maxRetriesPerRequest: 1 });
      try {
        const used = Number(/used_memory:(\d+)/.exec(String(await admin.info('memory')))?.[1] ?? 0);
        ctx.note(`maxmemory ${(maxmemoryFor(ctx.jobs) / 2 ** 20).toFixed(1)} MiB, ${(used / 2 ** 20).toFixed(1)} MiB used before the workload; jobs carry 2 KB of arguments each`);
        await ctx.workload.run({ jobs: ctx.jobs, batches: 10, ms: 20, padding: 2000 });
        await ctx.workload.settle();
        if (ctx.workload.batches.every((b) => b.ids)) ctx.note('no submit was refused (memory never ran out)');
        const unclear = ctx.workload.batches.filter((b) => b.submitError && b.submitError !== 'unavailable');
        if (unclear.length) ctx.violation(`${unclear.length} submits refused with ${[...new Set(unclear.map((b) => b.submitError))].join(', ')} instead of a clear 503 unavailable`);
      } finally {
        admin.disconnect();
      }
    },
  },
  {
    name: 'node-kill9',
    title: 'non-head node SIGKILLed, 100+ jobs waiting',
    expect: 'its running jobs start again first (within ~8 s), all delivered once',
    limitMs: 150_000,
    async run(ctx) {
      const victim = ctx.cluster.nodes[2];
      // long enough a backlog (~15 s on the 2 surviving nodes) to tell "first" from "at the back"
      const running = ctx.workload.run({ jobs: ctx.jobs, batches: 5, ms: Math.max(20, Math.round(60_000 / ctx.jobs)) });
      const ready = await waitFor(() => {
        const ledger = ctx.workload.readLedger();
        const started = new Set(ledger.filter((e) => e.kind === 'start').map((e) => e.token)).size;
        const submitted = ctx.workload.batches.reduce((n, b) => n + (b.ids?.length ?? 0), 0);
        return runningOn(ledger, victim.name, Date.now()).length > 0 && submitted - started >= 100;
      }, 60_000, ctx.signal);
      if (!ready) ctx.violation(`never had jobs running on ${victim.name} with 100 waiting`);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await running;
      await ctx.workload.settle();
      const ledger = ctx.workload.readLedger();
      const interrupted = runningOn(ledger, victim.name, killedAt);
      const restarts = interrupted.map((token) => startsOf(ledger, token).find((e) => e.at > killedAt)?.at);
      const lastStart = Math.max(...ledger.filter((e) => e.kind === 'start').map((e) => e.at));
      const delays = restarts.filter((at): at is number => at !== undefined).map((at) => at - killedAt);
      ctx.note(`${interrupted.length} running on ${victim.name} when killed; ${delays.length} started again, after ${delays.map((d) => `${(d / 1000).toFixed(1)} s`).join(', ') || '-'}; the last job of the backlog started ${((lastStart - killedAt) / 1000).toFixed(1)} s after the kill`);
      if (delays.length < interrupted.length) ctx.violation(`${interrupted.length - delays.length} interrupted jobs never started again`);
      const worst = delays.length ? Math.max(...delays) : undefined;
      if (worst !== undefined && worst > 8000) ctx.violation(`interrupted jobs started again only after ${(worst / 1000).toFixed(1)} s`);
      ctx.recovered(worst, 'until the killed node\'s running jobs started again (the slowest)');
    },
  },
  {
    name: 'node-drain',
    title: 'SIGTERM of a node running jobs (drain)',
    expect: 'its running jobs finish there before it exits',
    limitMs: 150_000,
    cluster: (f) => ({ nodeFlags: f.drainTimeout ? ['--drain-timeout', '15000'] : [] }),
    async run(ctx) {
      const victim = ctx.cluster.nodes[2];
      if (!ctx.features.drainTimeout) ctx.note('this build has no --drain-timeout');
      // two 3 s jobs pinned to the victim (one per thread), then a workload for the cluster
      const pinned = await ctx.workload.submit([0, 1].map(() => ({ ms: 3000, options: { queue: `default|${victim.name}` } })));
      const running = ctx.workload.run({ jobs: ctx.jobs, batches: 10, ms: 5, pauseMs: 100 });
      await waitFor(() => pinned.tokens.every((t) => startsOf(ctx.workload.readLedger(), t).length > 0), 30_000, ctx.signal);
      await sleep(500, ctx.signal);
      const termAt = Date.now();
      victim.child.kill('SIGTERM');
      const exitCode = await Promise.race([victim.exited, sleep(40_000, ctx.signal).then(() => 'still running' as const)]);
      const exitMs = Date.now() - termAt;
      await running;
      await ctx.workload.settle();
      const ledger = ctx.workload.readLedger();
      const interrupted = runningOn(ledger, victim.name, termAt);
      const finishedThere = interrupted.filter((t) => endsOf(ledger, t).some((e) => e.node === victim.name && e.at > termAt));
      const ranElsewhere = interrupted.filter((t) => startsOf(ledger, t).some((e) => e.node !== victim.name && e.at > termAt));
      ctx.note(`${interrupted.length} running on ${victim.name} at SIGTERM: ${finishedThere.length} finished there, ${ranElsewhere.length} ran again elsewhere; it exited (${exitCode}) ${exitMs} ms after SIGTERM`);
      if (finishedThere.length < interrupted.length) ctx.violation(`${interrupted.length - finishedThere.length} of ${interrupted.length} running jobs did not finish on the draining node`);
      ctx.recovered(exitMs, 'from SIGTERM to the node\'s exit');
    },
  },
  {
    name: 'head-sigstop',
    title: 'head SIGSTOPped 8 s (client requestTimeoutMs 2000)',
    expect: 'execute() fails with code timeout within ~2 s instead of hanging',
    limitMs: 150_000,
    client: { requestTimeoutMs: 2000 },
    async run(ctx) {
      const head = ctx.cluster.nodes[0];
      let resumeTimer: NodeJS.Timeout | undefined;
      const resume = () => {
        clearTimeout(resumeTimer);
        head.child.kill('SIGCONT');
      };
      ctx.signal.addEventListener('abort', resume, { once: true });
      let stoppedAt = 0;
      try {
        await ctx.workload.run({
          jobs: ctx.jobs, batches: 10, ms: 0, pauseMs: 150,
          beforeBatch: (i) => {
            if (i !== FAULT_BATCH) return;
            head.child.kill('SIGSTOP');
            stoppedAt = Date.now();
            resumeTimer = setTimeout(resume, 8000);
          },
        });
      } finally {
        resume();
      }
      const during = ctx.workload.batches[FAULT_BATCH]; // the first execute() after SIGSTOP
      const settledMs = (during?.settledAt ?? Date.now()) - stoppedAt;
      const how = during?.ids ? 'returned its ids (no timeout)' : `failed with ${during?.submitError}`;
      ctx.note(`execute() against the stopped head ${how} after ${(settledMs / 1000).toFixed(1)} s`);
      if (during?.submitError !== 'timeout' || settledMs > 5000) ctx.violation(`execute() did not fail with code timeout within 5 s (${how} after ${(settledMs / 1000).toFixed(1)} s)`);
      await ctx.workload.settle();
      ctx.recovered(settledMs, 'from SIGSTOP until execute() settled');
    },
  },
  {
    name: 'head-failover',
    title: 'head SIGKILLed mid-br(), client has two urls',
    expect: 'br() completes from the other node, every result once',
    limitMs: 150_000,
    client: { requestTimeoutMs: 5000, urls: 'all' },
    collect: false,
    unsupported: (f) => (f.urlArrays ? undefined : 'n/a (not supported by this build: new Client([url1, url2]))'),
    async run(ctx) {
      const head = ctx.cluster.nodes[0];
      for (let i = 0; i < 10; i++) {
        await ctx.workload.submit(Array.from({ length: Math.ceil(ctx.jobs / 10) }, () => ({ ms: 2 })));
      }
      const accepted = ctx.workload.batches.filter((b) => b.ids);
      const collected = ctx.client.br();
      await waitFor(() => ctx.workload.readLedger().filter((e) => e.kind === 'end').length >= ctx.jobs / 3, 60_000, ctx.signal);
      const killedAt = Date.now();
      head.child.kill('SIGKILL');
      try {
        const results = await Promise.race([collected, untilAborted(ctx.signal)]);
        if (results === undefined) return;
        const ids = accepted.flatMap((b) => b.ids!);
        const tokens = accepted.flatMap((b) => b.tokens);
        let wrong = 0;
        ids.forEach((id, i) => {
          if (results[i] === tokens[i]) ctx.workload.recordDelivery(id);
          else wrong++;
        });
        if (wrong > 0) ctx.violation(`${wrong} results missing or out of place`);
        ctx.recovered(Date.now() - killedAt, 'from the head\'s kill until br() returned');
      } catch (error) {
        const e = error as { code?: string; remoteName?: string; message?: string };
        ctx.violation(`br() threw ${e.remoteName ?? e.code ?? 'an error'}: ${String(e.message).slice(0, 120)}`);
      }
    },
  },
  {
    name: 'nats-kill9',
    title: 'nats-server kill -9, restart after 2 s',
    expect: 'every accepted job delivered once (regression line)',
    limitMs: 150_000,
    async run(ctx) {
      const { nats } = ctx.cluster;
      await faultMidWorkload(ctx, async () => {
        await nats.kill9();
        await sleep(2000);
        await nats.restart();
      });
    },
  },
];
