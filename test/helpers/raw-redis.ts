import { Redis } from 'ioredis';

/**
 * A test's own Redis client, to look at or tamper with keys directly: production code reaches
 * Redis only through `Store`, which keeps its connection to itself.
 */
export function rawRedis(url: string, t?: { teardown(fn: () => Promise<void> | void): void }): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  t?.teardown(() => redis.disconnect());
  return redis;
}
