import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KsError } from '../../src/errors.js';

/** What a node knows about its own state that decides which requests it can take now. */
export interface GateState {
  /** why Redis cannot be used now (lost), or undefined */
  redisLost(): string | undefined;
  /** throws a 503 while the Redis memory guard refuses new work */
  checkMemory(what: string): void;
  /** the node is draining (SIGTERM/SIGINT): it finishes what it runs but takes no new submits */
  draining(): boolean;
}

/** Routes that need no Redis: answered even while it is lost (results already here, liveness). */
const WITHOUT_REDIS = new Set(['/rpc/ping', '/rpc/cluster', '/rpc/bulkstatus', '/rpc/result/:id', '/healthz', '/readyz', '/metrics']);

function isSubmit(request: FastifyRequest, route: string): boolean {
  return request.method === 'POST' && (route === '/rpc/bulkcall' || route === '/rpc/call/:ns');
}

function isDirectCall(request: FastifyRequest): boolean {
  return (request.query as Record<string, string> | undefined)?.async === 'false';
}

/**
 * One `onRequest` hook, so a refused request is answered before its body is read, and the
 * checks are boolean reads: no Redis round trip on any request's path.
 * - Redis lost: every route that needs it fails at once with 503 `unavailable` (instead of
 *   waiting for ioredis's retries and answering with its internals);
 * - draining: new submits are refused (503), results and reads go on;
 * - Redis memory over the limit: queued submits and data saves are refused (503).
 */
export function registerRequestGates(app: FastifyInstance, state: GateState): void {
  app.addHook('onRequest', async (request, reply) => {
    try {
      check(request, state);
    } catch (error) {
      if (!(error instanceof KsError)) throw error;
      // A refusal is the node working as meant: answered, logged at debug, never as a failure
      // (a node that lost Redis would otherwise log a line per request, not one in all).
      request.log.debug({ code: error.code, route: request.routeOptions.url }, `request refused: ${error.message}`);
      return reply.code(error.status).type('application/json').send({ error: error.message, code: error.code });
    }
  });
}

function check(request: FastifyRequest, state: GateState): void {
  const route = request.routeOptions.url ?? '';
  if (!WITHOUT_REDIS.has(route)) {
    const lost = state.redisLost();
    if (lost) throw new KsError('unavailable', lost);
  }
  if (isSubmit(request, route)) {
    if (state.draining()) throw new KsError('unavailable', 'this node is stopping (draining its running jobs): submit to another node');
    if (!isDirectCall(request)) state.checkMemory('submit');
  } else if (request.method === 'POST' && route === '/rpc/data/*') {
    state.checkMemory('data save');
  }
}
