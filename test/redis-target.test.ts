/**
 * The Redis url forms of `--redis-url` and the flags that build them (src/store/redis-target.ts):
 * one Redis, a Redis Cluster, a master behind Sentinel; credentials never in descriptions.
 */
import test from 'ava';
import { describeRedis, parseRedisUrl, redisUrlFromFlags } from '../src/store/redis-target.js';

test('redis:// and rediss:// name one Redis, passed to ioredis as they are', (t) => {
  t.deepEqual(parseRedisUrl('redis://u:p@10.0.0.5:6380/2'), { kind: 'single', url: 'redis://u:p@10.0.0.5:6380/2' });
  t.deepEqual(parseRedisUrl('rediss://10.0.0.5'), { kind: 'single', url: 'rediss://10.0.0.5' });
  t.throws(() => parseRedisUrl('nats://10.0.0.5:4222'), { message: /nats: is not a Redis url/ });
});

test('redis+cluster:// lists the nodes discovery starts from, with credentials and TLS', (t) => {
  t.deepEqual(parseRedisUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001,[::1]:7002,h'), {
    kind: 'cluster', tls: false,
    nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '127.0.0.1', port: 7001 }, { host: '::1', port: 7002 }, { host: 'h', port: 6379 }],
  });
  t.like(parseRedisUrl('rediss+cluster://app:s%40cret@h1:7000'), { kind: 'cluster', tls: true, username: 'app', password: 's@cret' });
  t.like(parseRedisUrl('redis+cluster://:only-pass@h1:7000'), { password: 'only-pass', username: undefined });
  t.throws(() => parseRedisUrl('redis+cluster://h1:70000'), { message: /not host:port/ });
});

test('redis+sentinel:// names the sentinels and the master, with the db and the sentinels\' own password', (t) => {
  t.deepEqual(parseRedisUrl('redis+sentinel://u:p@s1:26379,s2/mymaster?db=3&sentinelPassword=sp'), {
    kind: 'sentinel', tls: false, username: 'u', password: 'p',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
    master: 'mymaster', db: 3, sentinelUsername: undefined, sentinelPassword: 'sp',
  });
  t.throws(() => parseRedisUrl('redis+sentinel://s1:26379'), { message: /names no master/ });
});

test('the flags make the one url a node hands on with --join', (t) => {
  t.is(redisUrlFromFlags({ url: 'redis://10.0.0.5:6379' }), 'redis://10.0.0.5:6379');
  t.is(redisUrlFromFlags({}), undefined);
  t.is(redisUrlFromFlags({ url: 'redis://u:p@10.0.0.5:7000', cluster: true }), 'redis+cluster://u:p@10.0.0.5:7000');
  t.is(redisUrlFromFlags({ url: 'redis+cluster://a:1,b:2', cluster: true }), 'redis+cluster://a:1,b:2');
  t.is(redisUrlFromFlags({ sentinels: 's1:26379,s2:26380', master: 'm' }), 'redis+sentinel://s1:26379,s2:26380/m');
  t.is(redisUrlFromFlags({ url: 'rediss://u:p@', sentinels: 's1:1', master: 'm' }), 'rediss+sentinel://u:p@s1:1/m');
  t.throws(() => redisUrlFromFlags({ sentinels: 's1:1' }), { message: /go together/ });
  t.throws(() => redisUrlFromFlags({ cluster: true }), { message: /--redis-cluster needs --redis-url/ });
  t.throws(() => redisUrlFromFlags({ sentinels: 's:1', master: 'm', cluster: true }), { message: /exclude each other/ });
});

test('descriptions name the servers, never the credentials', (t) => {
  t.is(describeRedis('redis://u:secret@10.0.0.5:6380'), '10.0.0.5:6380');
  t.is(describeRedis('redis+cluster://u:secret@a:1,b:2'), 'Redis Cluster a:1,b:2');
  t.is(describeRedis('redis+sentinel://u:secret@s1:1,s2:2/m?sentinelPassword=x'), 'Redis master "m" of sentinels s1:1,s2:2');
});
