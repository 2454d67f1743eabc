/**
 * A custom scheduler: calls on the `default` queue go to nodes that serve a `gpu` queue when
 * there are any (by data locality among them), else wherever data locality says.
 *
 *   node bin/ks.js start --datadir ./ks-data --queue default --queue gpu --scheduler dist/examples/gpu-scheduler.js
 *
 * A scheduler only chooses queues; the base class does validation, storage, enqueueing and
 * wake-ups. `route` returns queues most-preferred first; `hostQueue(queue, node)` pins a
 * copy to one node, and the k-th copy becomes claimable k × the locality wait later.
 */
import { Scheduler, hostQueue, type ClusterView, type RoutableCall } from '../index.js';

export default class GpuFirstScheduler extends Scheduler {
  override async route(call: RoutableCall, cluster: ClusterView): Promise<string[]> {
    const byData = await super.route(call, cluster); // the default: locality routing
    const gpuNodes = cluster.nodesServing('gpu');
    if (call.queue !== 'default' || gpuNodes.length === 0) return byData;
    const gpuFirst = await super.route({ ...call, queue: 'gpu' }, { ...cluster, nodesServing: () => gpuNodes });
    return gpuFirst.map((q) => (q === 'gpu' ? gpuNodes.map((n) => hostQueue('gpu', n.name)) : [q])).flat();
  }
}
