import type { Cluster, Redis } from 'ioredis';

/** What one wait learned about a batch: whether the server waited on holds it, and how many replicas acknowledged. */
export interface ReplicaAnswer {
  /** the batch record is committed on the master the wait ran on */
  committed: boolean;
  /** replicas that acknowledged every write up to the wait (WAIT's answer); 0 when unknown */
  replicas: number;
}

/**
 * `--redis-replica-acks N`: before a submit is answered, its commit must be on N replicas, so
 * a failover (Sentinel promoting a replica) after `execute()` returned loses none of its jobs.
 *
 * WAIT blocks the connection it is sent on, so it never runs on the Store's connection (its
 * heartbeats and claims would stall behind it): a connection of its own does, per round, one
 * MULTI that reads the batches' records and INCRs `replica-acks`, then `WAIT N timeout`. Redis
 * replicates in execution order, so a replica that has the INCR has each commit that ran
 * before it, which the records read in the same MULTI prove were there. Concurrent submits
 * share a round (one runs, the next collects everyone arriving meanwhile). A reconnect
 * between the MULTI and the WAIT (a failover) answers 0 replicas: the caller refuses.
 */
export class ReplicaAcks {
  private running?: Promise<void>;
  private waiting: { batchKey: string; resolve(answer: ReplicaAnswer): void; reject(error: Error): void }[] = [];
  private readies = 0;

  constructor(
    private readonly waiter: Redis | Cluster,
    /** the connection of `waiter` serving the cluster's keys (itself, or the slot's master on Redis Cluster) */
    private readonly keyspace: () => Redis,
    private readonly counterKey: string,
    readonly replicas: number,
    readonly timeoutMs: number,
  ) {
    waiter.on('ready', () => this.readies++);
    waiter.on('error', () => undefined);
  }

  /** Waits until the batch's commit is on `replicas` replicas, or the timeout. */
  acknowledge(batchKey: string): Promise<ReplicaAnswer> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batchKey, resolve, reject });
      if (!this.running) this.running = this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const round = this.waiting;
      this.waiting = [];
      try {
        const answers = await this.round(round.map((w) => w.batchKey));
        round.forEach((w, i) => w.resolve(answers[i]));
      } catch (error) {
        for (const w of round) w.reject(error as Error);
      }
    }
    this.running = undefined;
  }

  private async round(batchKeys: string[]): Promise<ReplicaAnswer[]> {
    const node = this.keyspace();
    const before = this.readies;
    const multi = node.multi();
    for (const key of batchKeys) multi.hget(key, 'st');
    multi.incr(this.counterKey);
    const replies = (await multi.exec()) ?? [];
    const replicas = Number(await node.wait(this.replicas, this.timeoutMs));
    const same = this.readies === before && this.keyspace() === node;
    return batchKeys.map((_, i) => ({
      committed: !replies[i]?.[0] && replies[i]?.[1] === 'committed',
      replicas: same ? replicas : 0,
    }));
  }

  async close(): Promise<void> {
    try {
      await this.waiter.quit();
    } catch {
      this.waiter.disconnect();
    }
  }
}
