/** Routing baseline for bench:locality: calls to the live nodes in turn, ignoring data. */
import { Scheduler, hostQueue, type ClusterView, type RoutableCall } from '../../index.js';

export default class RoundRobinScheduler extends Scheduler {
  private next = 0;

  override route(call: RoutableCall, cluster: ClusterView): string[] {
    const nodes = cluster.nodesServing(call.queue);
    return [hostQueue(call.queue, nodes[this.next++ % nodes.length].name)];
  }
}
