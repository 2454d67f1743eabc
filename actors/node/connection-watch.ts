import type { Logger } from '../../src/log.js';
import type { Store } from '../../src/store/store.js';

/** What a NATS connection reports about itself (the part of nats.js's `status()` used here). */
export interface NatsStatusSource {
  status(): AsyncIterable<{ type: string }>;
}

/**
 * Says once, in one line, when this node loses Redis or NATS and once when it is back, instead
 * of a warning per failed command. `address` is host:port only, never credentials. ioredis and
 * nats.js keep reconnecting by themselves; nothing here changes how.
 */
export class ConnectionWatch {
  private redisLostAt?: number;
  private natsLostAt?: number;
  private closed = false;

  constructor(private readonly log: Logger) {}

  /** false while the Redis connection is down (a slow Redis that still answers is up) */
  redisUp(store: Store): boolean {
    return store.connected;
  }

  /** Since when Redis is lost (ms), or undefined. */
  get redisLostSince(): number | undefined {
    return this.redisLostAt;
  }

  get natsLostSince(): number | undefined {
    return this.natsLostAt;
  }

  watchRedis(store: Store, address: string): void {
    store.watchConnection(() => {
      if (this.closed || this.redisLostAt !== undefined) return;
      this.redisLostAt = Date.now();
      this.log.warn(`lost Redis at ${address}, retrying`);
    }, () => {
      if (this.redisLostAt === undefined) return;
      this.log.warn(`Redis at ${address} is back after ${seconds(Date.now() - this.redisLostAt)}`);
      this.redisLostAt = undefined;
    });
  }

  watchNats(nc: NatsStatusSource, address: string): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (this.closed) return;
        if (status.type === 'disconnect' && this.natsLostAt === undefined) {
          this.natsLostAt = Date.now();
          this.log.warn(`lost NATS at ${address}, retrying`);
        } else if (status.type === 'reconnect' && this.natsLostAt !== undefined) {
          this.log.warn(`NATS at ${address} is back after ${seconds(Date.now() - this.natsLostAt)}`);
          this.natsLostAt = undefined;
        }
      }
    })().catch(() => undefined);
  }

  /** The node is stopping: closing the connections is not losing them. */
  close(): void {
    this.closed = true;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The host:port of a NATS url (or bare host:port), never its credentials. */
export function natsAddress(url: string): string {
  try {
    const parsed = new URL(url.includes('://') ? url : `nats://${url}`);
    return `${parsed.hostname}:${parsed.port || '4222'}`;
  } catch {
    return 'the configured address';
  }
}
