/** Routing baseline for bench:locality: each call to one live node chosen at random, ignoring data. A plain-object Router. */
import { hostQueue, type Router } from '../../index.js';

const random: Router = {
  route(call, cluster) {
    const nodes = cluster.nodesServing(call.queue);
    return [hostQueue(call.queue, nodes[Math.floor(Math.random() * nodes.length)].name)];
  },
};

export default random;
