import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { corkPerTick } from './cork.js';
import { parseRedisUrl, type RedisTarget } from './redis-target.js';
import { defineScripts, type StoreRedis } from './scripts.js';

/**
 * The Store's one Redis client, made from the cluster's Redis url (redis-target.ts): an ioredis
 * `Redis` for one Redis or a Sentinel-watched master, an ioredis `Cluster` for Redis Cluster.
 * Both answer the same commands; `keyspace()` is the connection holding the cluster's slot
 * (for the keyless commands that must reach it: SCAN, INFO, WAIT).
 */
export class RedisConnection {
  private slot?: number;

  private constructor(readonly client: StoreRedis, readonly target: RedisTarget) {}

  get isCluster(): boolean {
    return this.target.kind === 'cluster';
  }

  static async open(url: string, options: { name?: string; base: string; ca?: string }): Promise<RedisConnection> {
    const target = parseRedisUrl(url);
    // rediss:// (and its cluster and sentinel forms): TLS, trusting `ca` besides the system's CAs
    const tls = (target.kind === 'single' ? /^rediss:/i.test(target.url) : target.tls) ? { tls: options.ca !== undefined ? { ca: options.ca } : {} } : {};
    const common: RedisOptions = {
      connectionName: options.name,
      lazyConnect: true,
      maxRetriesPerRequest: 20,
      // Not ioredis's auto-pipelining (a Pipeline object and its promises per tick, ~10 KiB
      // per queued call): corkPerTick gives the same single write per tick.
      enableAutoPipelining: false,
    };
    let client: StoreRedis;
    if (target.kind === 'single') {
      client = new Redis(target.url, { ...common, ...tls }) as StoreRedis;
    } else if (target.kind === 'sentinel') {
      client = new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.master,
        db: target.db,
        username: target.username,
        password: target.password,
        sentinelUsername: target.sentinelUsername,
        sentinelPassword: target.sentinelPassword,
        ...(target.tls ? { ...tls, enableTLSForSentinelMode: true } : {}),
      }) as StoreRedis;
    } else {
      // ioredis Cluster sends each command on the connection of the node serving its slot; all
      // of a cluster's keys share one hash tag, so they all travel on one connection, in order.
      // It has no corked writes (cork.ts): each tick's commands leave as they are issued.
      client = new Cluster(target.nodes, {
        lazyConnect: true,
        enableAutoPipelining: false,
        redisOptions: {
          connectionName: options.name,
          maxRetriesPerRequest: 20,
          username: target.username,
          password: target.password,
          ...tls,
        },
      }) as unknown as StoreRedis;
    }
    if (target.kind !== 'cluster') corkPerTick(client);
    client.on('error', () => undefined); // ioredis reconnects by itself; failed commands reject where they were issued
    defineScripts(client);
    await client.connect();
    const connection = new RedisConnection(client, target);
    if (target.kind === 'cluster') connection.slot = Number(await (client as unknown as Cluster).cluster('KEYSLOT', options.base));
    return connection;
  }

  /**
   * The connection whose keyspace holds the cluster's keys: the client itself on one Redis
   * (or Sentinel's master), the master serving the cluster's hash slot on Redis Cluster.
   */
  keyspace(): Redis {
    if (this.target.kind !== 'cluster') return this.client;
    return RedisConnection.masterOf(this.client as unknown as Cluster, this.slot!);
  }

  /** The hash slot of the cluster's keys on Redis Cluster (undefined elsewhere). */
  get hashSlot(): number | undefined {
    return this.slot;
  }

  /** The connection of `cluster` to the master serving `slot`. */
  static masterOf(cluster: Cluster, slot: number): Redis {
    const owner = cluster.slots[slot]?.[0];
    const node = cluster.nodes('master').find((redis) => `${redis.options.host}:${redis.options.port}` === owner);
    if (!node) throw new Error(`no connected Redis Cluster master serves slot ${slot} (the cluster's hash tag) right now`);
    return node;
  }
}
