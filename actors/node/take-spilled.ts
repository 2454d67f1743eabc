import { request } from 'undici';
import type { NodeConfig } from '../../src/config.js';
import { KsError } from '../../src/errors.js';
import type { Registry } from '../../src/registry.js';
import type { ResultSpill } from '../executor/result-spill.js';

/**
 * How a head node takes a large result that a node kept: from its own memory or disk, or over
 * HTTP from the peer (`GET /rpc/result/<id>`). Either copy is removed only once the result
 * reached the client (`delivered`): the local one at once, the peer's with
 * `DELETE /rpc/result/<id>`. So a head that dies between taking and delivering leaves the
 * result where it was, for the node the client fails over to (a peer's copy not removed
 * that way goes with the result TTL).
 */
export function spilledResultTaker(config: NodeConfig, registry: Registry, spill: ResultSpill) {
  /** ids taken from peers and not yet delivered, with the peer's url */
  const takenFrom = new Map<string, string>();
  const headers = config.token ? { authorization: `Bearer ${config.token}` } : {};
  return {
    async take(id: string, node: string): Promise<Uint8Array> {
      if (node === config.nodeName) {
        try {
          return await spill.read(id, false);
        } catch (error) {
          if (error instanceof KsError && error.code === 'not_found') throw new ResultGone(error.message);
          throw error;
        }
      }
      // Read afresh: a node that is not live has lost its lease (its jobs are re-run elsewhere).
      const peer = (await registry.liveNodes(0)).find((n) => n.name === node);
      if (!peer) throw new ResultGone(`node ${node} is gone (no heartbeat)`);
      const url = new URL(`rpc/result/${encodeURIComponent(id)}`, peer.url);
      const response = await request(url, { headers });
      const body = Buffer.from(await response.body.arrayBuffer());
      const answer = `node ${node} answered ${response.statusCode}: ${body.toString('utf8').slice(0, 200)}`;
      if (response.statusCode === 404) throw new ResultGone(answer);
      if (response.statusCode !== 200) throw new Error(answer);
      takenFrom.set(id, peer.url);
      return body;
    },
    delivered(ids: readonly string[]): void {
      for (const id of ids) {
        spill.discard(id);
        const peerUrl = takenFrom.get(id);
        if (peerUrl === undefined) continue;
        takenFrom.delete(id);
        const url = new URL(`rpc/result/${encodeURIComponent(id)}`, peerUrl);
        void request(url, { method: 'DELETE', headers })
          .then((response) => response.body.dump())
          .catch(() => undefined); // the peer's sweep removes it after the result TTL
      }
    },
  };
}

/** The node that kept a large result no longer has it (it is gone, or says so): a fact, not a hiccup. */
export class ResultGone extends Error {
  override name = 'ResultGone';
}
