import { Transport } from '../../src/client/transport.js';
import type { NodeInfo } from '../../src/protocol.js';
import type { Registry } from '../../src/registry.js';

/**
 * The other nodes, as the DataHolder reaches them: live membership from the registry, and one
 * HTTP connection pool (undici, through the client's Transport) per peer, carrying the
 * cluster token.
 */
export class Peers {
  private readonly transports = new Map<string, Transport>();

  /** `ca`: PEM of the CA that signed the peers' certificates (`--tls-ca`) */
  constructor(private readonly registry: Registry, private readonly token: string | undefined, readonly self: string, private readonly ca?: string) {}

  async live(): Promise<NodeInfo[]> {
    return this.registry.liveNodes();
  }

  async liveByName(): Promise<Map<string, NodeInfo>> {
    return new Map((await this.live()).map((node) => [node.name, node]));
  }

  transport(node: NodeInfo): Transport {
    let transport = this.transports.get(node.url);
    if (!transport) {
      transport = new Transport(node.url, this.token, { ca: this.ca });
      this.transports.set(node.url, transport);
    }
    return transport;
  }

  async close(): Promise<void> {
    const all = [...this.transports.values()];
    this.transports.clear();
    await Promise.allSettled(all.map((t) => t.close()));
  }
}
