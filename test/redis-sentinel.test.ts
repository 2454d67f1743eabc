/**
 * Redis behind Sentinel, made by the test (one master, one replica, three sentinels): two
 * nodes on it, one named by `--redis-sentinels … --redis-master …`, the other by a
 * `redis+sentinel://` url, both with `--redis-replica-acks 1`, pass the core cases. Then the
 * failovers (docs/scaling.md "Failover"):
 * - what a failover loses without replica acks, shown: with the replica stopped (so nothing
 *   replicates), a submit through a node without `--redis-replica-acks` is accepted, and once
 *   the master is killed and the replica promoted, its jobs are gone from Redis, never run,
 *   and their results never come; the same submit through a node with acks is refused (503);
 * - with `--redis-replica-acks 1`, the master killed (kill -9) in the middle of a workload
 *   loses no job whose `execute()` returned: each is delivered exactly once.
 */
import test from 'ava';
import { Client, KsError } from '../index.js';
import { startNode, startNodes, startServices, type KsNode, type Services } from './helpers/cluster.js';
import { coreCases } from './helpers/core-cases.js';
import { eventually } from './helpers/data.js';
import { collectOutcomes, sideEffects, type Outcomes } from './helpers/outcomes.js';
import { rawRedis } from './helpers/raw-redis.js';
import { replicaArgs, sentinelsReady, startSentinels, type SentinelProcesses } from '../benchmarks/lib/redis-topologies.js';

let redis: SentinelProcesses;
let nats: Services;
let nodes: KsNode[] = [];
const runs = sideEffects();

test.before(async () => {
  redis = await startSentinels('ksmaster');
  nats = await startServices();
  const common = ['--nats-url', nats.natsUrl, '--locality-wait', '250', '--redis-replica-acks', '1', '--redis-replica-timeout', '1500'];
  nodes = await startNodes([
    { name: 'sn-a', workers: 2, flags: [...common, '--redis-sentinels', redis.sentinelAddresses, '--redis-master', redis.masterName] },
    { name: 'sn-b', workers: 2, flags: [...common, '--redis-url', redis.url] },
  ]);
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await nats?.stop();
  await redis?.stop();
  runs.remove();
});

coreCases(test, 'Redis Sentinel', () => [nodes[0], nodes[1]], ['sn-a', 'sn-b']);

/** Appends the job's id to the runs file, then returns its argument. */
const recorded = async (dir: string, x: number, ms: number) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  appendFileSync(`${dir}/runs`, `${taskContext().jobId}\n`);
  await new Promise((r) => setTimeout(r, ms));
  return x;
};

async function failover(from: number): Promise<void> {
  await eventually(async () => (await redis.currentMasterPort()) !== from, 30_000, 'the sentinels to promote the replica');
}

test.serial('without --redis-replica-acks a failover loses an accepted submit that had not replicated; with it, that submit is refused', async (t) => {
  t.timeout(120_000);
  // A node of its own, without replica acks, serving a queue of its own on one thread.
  const plain = await startNode({ name: 'sn-plain', workers: 1, flags: ['--nats-url', nats.natsUrl, '--redis-url', redis.url, '--queue', 'solo'] });
  t.teardown(() => plain.stop());
  const withAcks = new Client(nodes[0].url, { output: 'silent' });
  const without = new Client(plain.url, { output: 'silent' });
  t.teardown(() => Promise.all([withAcks.close(), without.close()]).then(() => undefined));

  const oldMaster = redis.master.port;
  // Replication stalls: the replica is stopped, and 32 MiB written to the master fill the
  // socket's buffers, so what follows waits in the master's memory (a kill -9 loses it).
  redis.replica.pause();
  const junk = rawRedis(`redis://127.0.0.1:${oldMaster}`, t);
  await junk.set('junk-filling-the-replication-link', Buffer.alloc(32 * 1024 * 1024, 7));
  for (let i = 0; i < 5; i++) withAcks.bc(recorded, runs.dir, i, 0);
  const refused = await t.throwsAsync(withAcks.execute(), { instanceOf: KsError });
  t.regex(refused!.message, /only 0 of 1 Redis replicas acknowledged it within 1500 ms/);

  // One job holds the only thread of sn-plain for 2 s; the other nine wait in its queue.
  for (let i = 0; i < 10; i++) without.bcWith({ queue: 'solo' }, recorded, runs.dir, 100 + i, 2000);
  const accepted = await without.execute();
  t.is(accepted.length, 10, 'accepted: execute() returned the ids');
  const outcomes = collectOutcomes(plain.url, accepted).catch((error: Error) => error);
  await eventually(() => runs.lines().filter((id) => accepted.includes(id)).length === 1, 10_000, 'the first job to start');

  await redis.master.kill9();
  redis.replica.resume();
  await failover(oldMaster);
  const admin = rawRedis(`redis://127.0.0.1:${await redis.currentMasterPort()}`, t);
  const batchKey = `{ks}:batch:${accepted[0].slice(0, accepted[0].lastIndexOf('-'))}`;
  t.is(await admin.exists(batchKey), 0, 'the new master never had the batch');
  t.is(await admin.exists(...accepted.map((id) => `{ks}:job:${id}`)), 0, 'nor its jobs');

  // The job that was running finishes (its outcome travels on NATS); the nine waiting ones are
  // gone: they never run and no outcome comes for them (their records' lifetime decides).
  const settled = await Promise.race([outcomes, new Promise<undefined>((r) => setTimeout(() => r(undefined), 6000))]);
  t.is(settled, undefined, 'br() of the lost jobs does not end');
  const ran = runs.lines().filter((id) => accepted.includes(id));
  t.is(ran.length, 1, `only the job running at the failover ran (${ran.length})`);
  t.log('lost without replica acks: 9 of 10 accepted jobs (never run, no outcome)');
});

test.serial('with --redis-replica-acks 1, killing the master mid-workload loses no job whose execute() returned', async (t) => {
  t.timeout(180_000);
  // The previous test promoted the replica: give the new master a replica again (the old
  // master's port, restarted empty; the sentinels make it a replica of the new master).
  const master = await redis.currentMasterPort();
  await restartAsReplica(redis, master);
  const c = new Client(nodes[0].url, { output: 'silent' });
  t.teardown(() => c.close());

  const accepted: string[][] = [];
  const collecting: Promise<Outcomes>[] = [];
  let refused = 0;
  let killed = false;
  // Once the replica is promoted, the dead master comes back as its replica (as an operator
  // would bring it back): until then no submit can have its replica ack, and all are refused.
  let healed: Promise<void> | undefined;
  let healedDone = false;
  const deadline = Date.now() + 90_000;
  let afterHealing = 0;
  for (let round = 0; Date.now() < deadline && afterHealing < 5; round++) {
    for (let i = 0; i < 10; i++) c.bc(recorded, runs.dir, round * 10 + i, 20);
    try {
      const ids = await c.execute();
      accepted.push(ids);
      collecting.push(collectOutcomes(nodes[0].url, ids));
      collecting.at(-1)!.catch(() => undefined);
      if (healedDone) afterHealing++;
    } catch (error) {
      refused++;
      if (refused % 20 === 1) t.log(`refused: ${(error as Error).message}`);
    }
    if (round === 8 && !killed) {
      killed = true;
      await killMaster(redis, master);
      healed = failover(master).then(async () => restartAsReplica(redis, await redis.currentMasterPort())).then(() => {
        healedDone = true;
      });
      healed.catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(killed && afterHealing >= 5)) t.log(nodes[0].output().slice(-4000));
  t.true(killed && afterHealing >= 5, `the workload went on after the failover (${afterHealing} rounds accepted after the old master came back as a replica; ${refused} refused)`);
  const all = await Promise.race([Promise.all(collecting), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('outcomes still missing after 60 s')), 60_000))]);
  const ids = accepted.flat();
  const done = new Set(all.flatMap((o) => [...o.done.keys()]));
  const failed = all.flatMap((o) => [...o.failed.entries()].map(([id, e]) => `${id}: ${e.name} ${e.message}`));
  t.deepEqual(failed, [], 'no accepted job failed or was declared lost');
  t.is(done.size, ids.length, `every accepted job delivered (${ids.length} in ${accepted.length} submits; ${refused} submits refused during the failover)`);
  t.deepEqual(all.flatMap((o) => o.duplicated), [], 'each delivered once');
  const ran = new Set(runs.lines());
  t.true(ids.every((id) => ran.has(id)), 'and executed (at least once: a claim lost in the failover runs again)');
});

/** Kills the master the sentinels name now (kill -9) by its pid. */
async function killMaster(set: SentinelProcesses, port: number): Promise<void> {
  const process = [set.master, set.replica].find((p) => p.port === port);
  if (!process) throw new Error(`no process of the test listens on ${port}`);
  await process.kill9();
}

/** Starts the dead one of master/replica again on its port as a replica of `masterPort`, and waits until the sentinels count on it. */
async function restartAsReplica(set: SentinelProcesses, masterPort: number): Promise<void> {
  const dead = set.master.port === masterPort ? set.replica : set.master;
  if (dead.child.exitCode === null && dead.child.signalCode === null) return;
  await dead.restart(replicaArgs(set.dir, dead.port, masterPort));
  await sentinelsReady(set.sentinels, set.masterName, dead.port);
}
