/** Routing baseline for bench:locality: calls to the live nodes in turn, ignoring data. A Router class with state (`ks start` instantiates it). */
import { hostQueue, type ClusterView, type RoutableCall, type Router } from '../../index.js';

export default class RoundRobinRouter implements Router {
  private next = 0;

  route(call: RoutableCall, cluster: ClusterView): string[] {
    const nodes = cluster.nodesServing(call.queue);
    return [hostQueue(call.queue, nodes[this.next++ % nodes.length].name)];
  }
}
