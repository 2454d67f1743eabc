import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeInfo } from '../../src/protocol.js';
import type { Store } from '../../src/store/store.js';

/**
 * This datadir's node instance id: made once, kept in `<datadir>/.ks/node-instance`. It is
 * stored with the node's registry description, so a node restarted on the same datadir (a
 * supervisor restarting it after a crash) is told apart from another node taking its name.
 */
export async function instanceId(datadir: string): Promise<string> {
  const file = join(datadir, '.ks', 'node-instance');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(join(datadir, '.ks'), { recursive: true });
  const id = randomUUID();
  await writeFile(file, `${id}\n`);
  return id;
}

/**
 * Refuses a name that a live node of another datadir holds: two processes under one name share
 * one lease, one running set and one host queue, and flip the url every heartbeat. A live entry
 * with this datadir's instance id is this node restarting within the heartbeat TTL: accepted.
 */
export async function checkNameFree(store: Store, name: string, instance: string): Promise<void> {
  const { description, beat } = await store.nodes.one(name);
  if (beat === null || description === null) return;
  let live: Partial<NodeInfo>;
  try {
    live = JSON.parse(description) as Partial<NodeInfo>;
  } catch {
    return;
  }
  if (live.instance === instance) return;
  const ago = Math.max(0, Date.now() - Number(beat));
  throw new Error(`node name ${name} is already live in this cluster (${live.url ?? 'unknown url'}, heartbeat ${ago} ms ago): pick another --node-name, or stop that node first`);
}
