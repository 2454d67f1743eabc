import { request } from 'undici';
import type { NodeConfig } from '../../src/config.js';
import { KsError } from '../../src/errors.js';
import type { Registry } from '../../src/registry.js';
import type { ResultSpill } from '../executor/result-spill.js';

/**
 * How a head node takes a large result that a node kept: from its own memory or disk (it is
 * removed once delivered, `delivered` below), or over HTTP from the peer
 * (`GET /rpc/result/<id>?consume=true`), which removes it once sent.
 */
export function spilledResultTaker(config: NodeConfig, registry: Registry, spill: ResultSpill) {
  return async (id: string, node: string): Promise<Uint8Array> => {
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
    const url = new URL(`rpc/result/${encodeURIComponent(id)}?consume=true`, peer.url);
    const response = await request(url, { headers: config.token ? { authorization: `Bearer ${config.token}` } : {} });
    const body = Buffer.from(await response.body.arrayBuffer());
    const answer = `node ${node} answered ${response.statusCode}: ${body.toString('utf8').slice(0, 200)}`;
    if (response.statusCode === 404) throw new ResultGone(answer);
    if (response.statusCode !== 200) throw new Error(answer);
    return body;
  };
}

/** The node that kept a large result no longer has it (it is gone, or says so): a fact, not a hiccup. */
export class ResultGone extends Error {
  override name = 'ResultGone';
}
