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
  'redis-url': Flags.string({ description: 'an external Redis (implies --no-redis): redis://[user:password@]host:port, rediss:// for TLS; a password here shows in ps: prefer --redis-url-file', env: 'KS_REDIS_URL' }),
  'redis-url-file': Flags.string({ description: 'a file (mode 0600) whose first line is the --redis-url, password included', exclusive: ['redis-url'] }),
  'redis-ca': Flags.string({ description: 'PEM file of the CA that signed Redis\'s certificate (rediss://) [default: --tls-ca, else the system\'s CAs]' }),
  redis: Flags.boolean({ allowNo: true, default: true, description: 'start redis-server as a child process (--no-redis: use --redis-url)' }),
  'nats-url': Flags.string({ description: 'an external NATS server, or a comma-separated list of a NATS cluster\'s servers (implies --no-nats): nats://[user:password@ or token@]host:port, tls:// for TLS', env: 'KS_NATS_URL' }),
  'nats-creds': Flags.string({ description: 'a file with NATS credentials: the .creds file nsc writes, or one line user:password or a token' }),
  'nats-ca': Flags.string({ description: 'PEM file of the CA that signed the NATS servers\' certificates: TLS is then required [default: --tls-ca]' }),
  nats: Flags.boolean({ allowNo: true, default: true, description: 'start nats-server as a child process (--no-nats: use --nats-url)' }),
  'read-only': Flags.boolean({ default: false, description: 'serve data and run tasks, but store no data' }),
  module: Flags.string({ description: 'a module whose exported functions can be called by name' }),
  queue: Flags.string({ multiple: true, description: 'queues this node serves (repeatable) [default: default, data]' }),
  prefix: Flags.string({ default: '', description: 'prefix of every Redis key and NATS subject, so clusters can share servers' }),
  token: Flags.string({ env: 'KS_TOKEN', description: 'require this token on every request (needed to bind a non-loopback address); on a command line it shows in ps until the node hides it: prefer --token-file or KS_TOKEN', exclusive: ['token-file'] }),
  'token-file': Flags.string({ description: 'a file (mode 0600) whose first line is the token' }),
  'tls-cert': Flags.string({ description: 'PEM certificate: serve the API over HTTPS (with --tls-key; the --node-url becomes https://)', dependsOn: ['tls-key'] }),
  'tls-key': Flags.string({ description: 'PEM private key of --tls-cert', dependsOn: ['tls-cert'] }),
  'tls-ca': Flags.string({ description: 'PEM file of the CA that signed the other nodes\' certificates (peer copies, --join); also Redis\'s and NATS\'s unless --redis-ca/--nats-ca say otherwise' }),
  'metrics-public': Flags.boolean({ default: false, description: 'serve GET /metrics without the token (/healthz and /readyz never need it)' }),
  router: Flags.string({ aliases: ['scheduler'], description: 'a module whose default export routes calls: a Router ({ route(call, cluster) }), a Scheduler actor, or a class of either (alias --scheduler; docs/scheduling.md)' }),
  join: Flags.string({ description: 'URL of a running node whose cluster to join (uses its Redis, NATS, their credentials and its prefix; the cluster must have a token)', exclusive: ['redis-url', 'redis-url-file', 'nats-url'] }),
  'max-body': byteSize({ description: 'largest request body the node accepts (bytes, or 256KiB, 1MB...); larger ones get a 413 [default: 512MiB]' }),
  'min-free-disk': byteSize({ description: 'refuse data writes that would leave less free space than this on the datadir\'s disk (bytes, or 500MB, 1GiB...) [default: the larger of 1 GiB and 5% of the disk]' }),
  'cache-max': byteSize({ description: 'on a --read-only node: bytes of the copies its tasks read to keep (least recently used go first) [default: the smaller of 10 GiB and 10% of the disk]' }),
  env: Flags.string({ multiple: true, description: 'NAME=DIR: an npm project folder (package.json, node_modules) whose packages tasks run with bcWith({ env: NAME }) import (repeatable)' }),
  'memory-cache': byteSize({ description: 'bytes of data read by tasks this node keeps in memory, shared by its threads (least recently used go first; 0: off) [default: a quarter of the memory, at most 4 GiB]' }),
  'lost-job-retries': Flags.integer({ min: 0, description: 'times a job whose node was lost is queued again before it fails with NodeLost; give every node the same value [default: 1]' }),
  'locality-wait': Flags.integer({ min: 0, description: 'ms before a job\'s next-choice copy becomes claimable; 0 turns delay scheduling off [default: 50]' }),
  'locality-copy-rate': byteSize({ description: 'bytes per second a copy between nodes is taken to move: a node that must copy a call\'s data gets it only after the wait such a copy takes (so a holder about to be free keeps it); 0: only --locality-wait [default: 100MB]' }),
  'upload-idle': Flags.integer({ min: 1, description: 'ms a data upload may send nothing before the node drops it (nothing of it is kept) [default: 120000]' }),
  'drain-timeout': Flags.integer({ min: 0, description: 'on SIGTERM/SIGINT: ms the node lets its running jobs finish before it hands the rest over to other nodes (a second signal stops at once) [default: 30000]' }),
  'redis-memory-limit': Flags.integer({ min: 1, max: 100, description: 'percent of Redis\'s maxmemory above which submits and data saves are refused with a 503 (reads and results go on) [default: 90]' }),
  'result-hold': Flags.integer({ min: 0, description: 'ms a large result (over 256 KiB) waits in memory for its client before it is written to this node\'s disk [default: 5000]' }),
  'history-ttl': Flags.integer({ min: 1, description: 'ms a finished job stays in the job history; the cluster keeps its first node\'s value [default: 86400000]' }),
  'history-max': Flags.integer({ min: 0, description: 'most finished jobs the job history keeps (the oldest go first; 0: keep no history); the cluster keeps its first node\'s value [default: 100000]' }),
  'history-bytes': byteSize({ description: 'most bytes of entries the job history keeps (bytes, or 64MiB...); the cluster keeps its first node\'s value [default: 256MiB]' }),
};
