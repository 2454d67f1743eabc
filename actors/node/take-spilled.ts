import { request } from 'undici';
import type { NodeConfig } from '../../src/config.js';
import type { Registry } from '../../src/registry.js';
import type { ResultSpill } from '../executor/result-spill.js';

/**
 * How a head node takes a large result that a node kept: from its own memory or disk (it is
 * removed once delivered, `delivered` below), or over HTTP from the peer
 * (`GET /rpc/result/<id>?consume=true`), which removes it once sent.
 */
export function spilledResultTaker(config: NodeConfig, registry: Registry, spill: ResultSpill) {
  return async (id: string, node: string): Promise<Uint8Array> => {
    if (node === config.nodeName) return spill.read(id, false);
    const peer = (await registry.liveNodes()).find((n) => n.name === node);
    if (!peer) throw new Error(`node ${node} is not live`);
    const url = new URL(`rpc/result/${encodeURIComponent(id)}?consume=true`, peer.url);
    const response = await request(url, { headers: config.token ? { authorization: `Bearer ${config.token}` } : {} });
    const body = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode !== 200) throw new Error(`node ${node} answered ${response.statusCode}: ${body.toString('utf8').slice(0, 200)}`);
    return body;
  };
}
