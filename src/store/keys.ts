/**
 * Every Redis key the cluster uses. Each key's type and fields are described once, in the
 * table of docs/architecture.md §4 "Redis keys": keep the two in step. The Lua scripts build
 * per-job and per-url keys from the base they get as KEYS[1] with the same shapes
 * (`KEYS[1] .. 'job:' .. id`; the convention is in scripts.ts). NATS subjects are in
 * src/subjects.ts.
 *
 * Every key starts with the base, which carries the cluster's Redis Cluster hash tag:
 * `{ks}:` by default, `{P}:ks:` with `--prefix P`. Redis Cluster hashes only the part in
 * braces, so all keys of one cluster lie in one slot and every script may touch any of them
 * (architecture §4; several clusters, i.e. prefixes, spread over the shards: docs/scaling.md).
 */
export class Keys {
  /** Prefix of every key, e.g. "{ks}:" or "{mycluster}:ks:"; the Lua scripts receive it as KEYS[1]. */
  readonly base: string;
  /** The base of the layout before hash tags ("ks:", "P:ks:"): keys found under it are moved (Store.migrateLegacyKeys). */
  readonly legacyBase: string;

  constructor(readonly prefix = '') {
    checkPrefix(prefix);
    this.base = prefix ? `{${prefix}}:ks:` : '{ks}:';
    this.legacyBase = prefix ? `${prefix}:ks:` : 'ks:';
  }

  job(id: string): string {
    return `${this.base}job:${id}`;
  }
  fn(sha: string): string {
    return `${this.base}fn:${sha}`;
  }
  /** hash: a submit's batch record (the batch protocol, lua/beginBatch.lua) */
  batch(id: string): string {
    return `${this.base}batch:${id}`;
  }
  /** string: the batch id a client's submitId maps to (as long as the batch's jobs can live) */
  submit(submitId: string): string {
    return `${this.base}submit:${submitId}`;
  }
  queue(name: string): string {
    return `${this.base}q:${name}`;
  }
  /** hash: the node's last claim (token, ids): a claim resent after a reconnect answers it again */
  lastClaim(node: string): string {
    return `${this.base}claim:${node}`;
  }
  running(node: string): string {
    return `${this.base}running:${node}`;
  }
  node(name: string): string {
    return `${this.base}node:${name}`;
  }
  get nodes(): string {
    return `${this.base}nodes`;
  }
  /** the set of queue names jobs were pushed to */
  get queueNames(): string {
    return `${this.base}queues`;
  }
  /** string: a counter INCRed before each WAIT of --redis-replica-acks (replica-acks.ts) */
  get replicaAcks(): string {
    return `${this.base}replica-acks`;
  }
  get reaperLock(): string {
    return `${this.base}reaper`;
  }
  /** bitmap: bit i set once job i of the batch was delivered (its record is deleted then) */
  delivered(batch: string): string {
    return `${this.base}delivered:${batch}`;
  }
  /** the cluster's epoch: written once, read with every heartbeat (missing or changed: Redis lost its data) */
  get epoch(): string {
    return `${this.base}epoch`;
  }
  /** sorted set: id -> finish time of every job in the history (`histFailed`: those that did not end ok) */
  get hist(): string {
    return `${this.base}hist`;
  }
  get histFailed(): string {
    return `${this.base}hist:failed`;
  }
  /** hash: id -> the job's history entry (CBOR) */
  get histData(): string {
    return `${this.base}hist:data`;
  }
  /** string: bytes of hist:data's entries */
  get histBytes(): string {
    return `${this.base}hist:bytes`;
  }
  /** hash: the cluster's history limits (ttl, max, bytes), set by its first node */
  get histConfig(): string {
    return `${this.base}hist:cfg`;
  }
  dataLoc(url: string): string {
    return `${this.base}data:loc:${url}`;
  }
  dataInfo(url: string): string {
    return `${this.base}data:info:${url}`;
  }
  /** hash: url -> size of every url the node holds a copy of */
  dataHeld(node: string): string {
    return `${this.base}data:held:${node}`;
  }
  /** hash: node -> bytes it holds */
  get dataHeldBytes(): string {
    return `${this.base}data:held-bytes`;
  }
  /** hash: folder -> how many data urls are claimed or held under it */
  get dataDirs(): string {
    return `${this.base}data:dirs`;
  }
  /** sorted set: url of a write in progress -> when its claim expires (ms) */
  get dataClaims(): string {
    return `${this.base}data:claims`;
  }
  /** hash: url -> `<size>` or `<size>:pinned`, the urls a node holds in memory (pinned, or large) */
  dataMem(node: string): string {
    return `${this.base}data:mem:${node}`;
  }
  /** set: urls whose copy on a node was deleted from the catalog while the node was down; it removes them at start */
  dataGone(node: string): string {
    return `${this.base}data:gone:${node}`;
  }
}

/** Host queues pin work to one node: `<queue>|<node>`. */
export function hostQueue(queue: string, node: string): string {
  return `${queue}|${node}`;
}

export function parseHostQueue(name: string): { queue: string; node: string } | null {
  const bar = name.lastIndexOf('|');
  return bar < 0 ? null : { queue: name.slice(0, bar), node: name.slice(bar + 1) };
}

/**
 * A prefix names the cluster's hash tag and NATS subjects: no braces (they would end the
 * tag early), no NATS wildcards or separators' neighbours that would split a subject.
 */
export function checkPrefix(prefix: string): void {
  if (prefix !== '' && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new Error(`--prefix ${JSON.stringify(prefix)} is not allowed: use letters, digits, '-', '_' (and '.' between them)`);
  }
}
