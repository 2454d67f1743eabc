import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What a node found when it saw that Redis lost its data. */
export interface DataLoss {
  /** the epoch this node knew */
  previous: string;
  /** what it read instead: null when the key was missing (a restart without persistence, FLUSHALL) */
  found: string | null;
  /** the epoch in place now: re-created by this node, or by another node that saw the loss first */
  current: string;
  /** when this node read the missing or changed epoch (ms) */
  detectedAt: number;
}

export type DataLossListener = (loss: DataLoss) => void;

/**
 * The cluster's epoch key: a random value written once (SET NX) when a node starts and finds
 * none, and read by every node with each heartbeat. Redis that restarted without its data, or
 * was flushed, has no epoch (or another one, when a node re-created it first): whoever reads
 * that knows that every job, queue and record written before is gone, re-creates the epoch
 * and tells its listeners (batch trackers, caches of what is stored, the catalog...).
 */
export class RedisEpoch {
  private known?: string;
  private readonly listeners = new Set<DataLossListener>();
  private checking?: Promise<void>;

  constructor(private readonly redis: Redis, readonly key: string) {}

  /** The epoch this node knows (undefined before `establish`): pass it to `check` with what a read found. */
  get expected(): string | undefined {
    return this.known;
  }

  /** At node start: writes the epoch when there is none and adopts the one in place. */
  async establish(): Promise<string> {
    const value = await this.createIfMissing();
    this.known ??= value;
    if (this.known !== value) await this.check(value, this.known);
    return this.known;
  }

  /**
   * Compares an epoch read from Redis (`found`, e.g. in the heartbeat's round trip) with the
   * one this node expected when it sent the read. Missing or different: Redis lost its data;
   * the epoch is re-created (or another node's new one adopted) and the listeners are told,
   * once per loss. A read sent before this node adopted a new epoch is ignored.
   */
  async check(found: string | null, expected: string | undefined): Promise<void> {
    if (expected === undefined || expected !== this.known || found === expected) return;
    if (this.checking) return this.checking;
    const detectedAt = Date.now();
    this.checking = (async () => {
      const current = await this.createIfMissing();
      const loss: DataLoss = { previous: expected, found, current, detectedAt };
      this.known = current;
      for (const listener of [...this.listeners]) {
        try {
          listener(loss);
        } catch {
          // one listener's failure must not keep the others from hearing about the loss
        }
      }
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /** Calls `listener` each time this node sees that Redis lost its data; returns the unsubscribe. */
  onDataLoss(listener: DataLossListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** SET NX of a new random value, and the value in place, in one atomic round trip. */
  private async createIfMissing(): Promise<string> {
    const results = await this.redis.multi().set(this.key, randomBytes(12).toString('hex'), 'NX').get(this.key).exec();
    const [error, value] = results?.[1] ?? [new Error('the epoch transaction was discarded'), null];
    if (error) throw error;
    if (typeof value !== 'string') throw new Error(`the epoch key ${this.key} could not be read back`);
    return value;
  }
}
