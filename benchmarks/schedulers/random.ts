/** Routing baseline for bench:locality: each call to one live node chosen at random, ignoring data. */
import { Scheduler, hostQueue, type ClusterView, type RoutableCall } from '../../index.js';

export default class RandomScheduler extends Scheduler {
  override route(call: RoutableCall, cluster: ClusterView): string[] {
    const nodes = cluster.nodesServing(call.queue);
    return [hostQueue(call.queue, nodes[Math.floor(Math.random() * nodes.length)].name)];
  }
}
