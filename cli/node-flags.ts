import { Flags } from '@oclif/core';
import { parseByteSize } from '../src/byte-size.js';
import { DEFAULT_NODE_URL } from '../src/config.js';

const byteSize = Flags.custom<number>({ parse: async (input) => parseByteSize(input) });

/** The flags of `ks start` (architecture §9), shared with any command that starts nodes. */
export const nodeFlags = {
  datadir: Flags.string({ required: true, description: 'directory for this node\'s data (and the embedded Redis/NATS files)' }),
  'num-workers': Flags.integer({ min: 1, description: 'worker threads running tasks [default: number of cores]' }),
  'node-url': Flags.string({ default: DEFAULT_NODE_URL, description: 'URL other nodes and clients reach this node at; its host and port are bound' }),
  'node-name': Flags.string({ description: 'name of this node in the cluster [default: <hostname>-<port>]' }),
  'node-port': Flags.integer({ min: 1, max: 65535, description: 'port to bind (overrides the port of --node-url)' }),
  'redis-url': Flags.string({ description: 'an external Redis (implies --no-redis)', env: 'KS_REDIS_URL' }),
  redis: Flags.boolean({ allowNo: true, default: true, description: 'start redis-server as a child process (--no-redis: use --redis-url)' }),
  'nats-url': Flags.string({ description: 'an external NATS server (implies --no-nats)', env: 'KS_NATS_URL' }),
  nats: Flags.boolean({ allowNo: true, default: true, description: 'start nats-server as a child process (--no-nats: use --nats-url)' }),
  'read-only': Flags.boolean({ default: false, description: 'serve data and run tasks, but store no data' }),
  module: Flags.string({ description: 'a module whose exported functions can be called by name' }),
  queue: Flags.string({ multiple: true, description: 'queues this node serves (repeatable) [default: default, data]' }),
  prefix: Flags.string({ default: '', description: 'prefix of every Redis key and NATS subject, so clusters can share servers' }),
  token: Flags.string({ env: 'KS_TOKEN', description: 'require this token on every request (needed to bind a non-loopback address)' }),
  'ui-token': Flags.string({ env: 'KS_UI_TOKEN', exclusive: ['ui-token-file'], description: 'a view-only token: opens the dashboard, /metrics and the job history, gets 403 on anything that submits, cancels, writes or deletes (needs --token)' }),
  'ui-token-file': Flags.string({ exclusive: ['ui-token'], description: 'read the view-only token (--ui-token) from this file (its first line), so it is not in the command line' }),
  'metrics-public': Flags.boolean({ default: false, description: 'serve GET /metrics without the token (/healthz and /readyz never need it)' }),
  router: Flags.string({ aliases: ['scheduler'], description: 'a module whose default export routes calls: a Router ({ route(call, cluster) }), a Scheduler actor, or a class of either (alias --scheduler; docs/scheduling.md)' }),
  join: Flags.string({ description: 'URL of a running node whose cluster to join (uses its Redis, NATS and prefix)', exclusive: ['redis-url', 'nats-url'] }),
  'max-body': byteSize({ description: 'largest request body the node accepts (bytes, or 256KiB, 1MB...); larger ones get a 413 [default: 512MiB]' }),
  'min-free-disk': byteSize({ description: 'refuse data writes that would leave less free space than this on the datadir\'s disk (bytes, or 500MB, 1GiB...) [default: the larger of 1 GiB and 5% of the disk]' }),
  'cache-max': byteSize({ description: 'on a --read-only node: bytes of the copies its tasks read to keep (least recently used go first) [default: the smaller of 10 GiB and 10% of the disk]' }),
  env: Flags.string({ multiple: true, description: 'NAME=DIR: an npm project folder (package.json, node_modules) whose packages tasks run with bcWith({ env: NAME }) import (repeatable)' }),
  'memory-cache': byteSize({ description: 'bytes of data read by tasks this node keeps in memory, shared by its threads (least recently used go first; 0: off) [default: a quarter of the memory, at most 4 GiB]' }),
  'lost-job-retries': Flags.integer({ min: 0, description: 'times a job whose node was lost is queued again before it fails with NodeLost; give every node the same value [default: 1]' }),
  'locality-wait': Flags.integer({ min: 0, description: 'ms before a job\'s next-choice copy becomes claimable; 0 turns delay scheduling off [default: 50]' }),
  'upload-idle': Flags.integer({ min: 1, description: 'ms a data upload may send nothing before the node drops it (nothing of it is kept) [default: 120000]' }),
  'drain-timeout': Flags.integer({ min: 0, description: 'on SIGTERM/SIGINT: ms the node lets its running jobs finish before it hands the rest over to other nodes (a second signal stops at once) [default: 30000]' }),
  'redis-memory-limit': Flags.integer({ min: 1, max: 100, description: 'percent of Redis\'s maxmemory above which submits and data saves are refused with a 503 (reads and results go on) [default: 90]' }),
  'result-hold': Flags.integer({ min: 0, description: 'ms a large result (over 256 KiB) waits in memory for its client before it is written to this node\'s disk [default: 5000]' }),
  'history-ttl': Flags.integer({ min: 1, description: 'ms a finished job stays in the job history; the cluster keeps its first node\'s value [default: 86400000]' }),
  'history-max': Flags.integer({ min: 0, description: 'most finished jobs the job history keeps (the oldest go first; 0: keep no history); the cluster keeps its first node\'s value [default: 100000]' }),
  'history-bytes': byteSize({ description: 'most bytes of entries the job history keeps (bytes, or 64MiB...); the cluster keeps its first node\'s value [default: 256MiB]' }),
};
