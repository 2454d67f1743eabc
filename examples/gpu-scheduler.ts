/**
 * A custom Router: calls on the `default` queue go to nodes that serve a `gpu` queue when
 * there are any (by data locality among them), else wherever data locality says.
 *
 *   node bin/ks.js start --datadir ./ks-data --queue default --queue gpu --router dist/examples/gpu-scheduler.js
 *
 * A Router only chooses queues, from a read-only view of the cluster; the Scheduler does the
 * checks, storage, enqueueing and wake-ups. `route` returns queues most-preferred first;
 * `hostQueue(queue, node)` pins a copy to one node, and the k-th copy becomes claimable
 * k × the locality wait later. It composes `localityRouter`, the default, instead of
 * inheriting from anything (docs/scheduling.md).
 */
import { hostQueue, localityRouter, type Router } from '../index.js';

const gpuFirst: Router = {
  async route(call, cluster) {
    const byData = await localityRouter.route(call, cluster);
    const gpuNodes = cluster.nodesServing('gpu');
    if (call.queue !== 'default' || gpuNodes.length === 0) return byData;
    // Locality among the gpu nodes only: their host queues by data, or the shared `gpu` queue.
    const amongGpu = await localityRouter.route({ ...call, queue: 'gpu' }, { ...cluster, nodesServing: () => gpuNodes });
    return amongGpu.flatMap((q) => (q === 'gpu' ? gpuNodes.map((n) => hostQueue('gpu', n.name)) : [q]));
  },
};

export default gpuFirst;
