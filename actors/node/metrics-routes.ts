import type { FastifyInstance } from 'fastify';
import './access.js'; // the route config's public/view flags
import type { NodeMetrics } from './metrics.js';


/**
 * `GET /healthz` (the process answers: no token, no I/O), `GET /readyz` (Redis and NATS
 * answer: 200, else 503; no token, and it says nothing but those two booleans) and
 * `GET /metrics` (token-protected unless `metricsPublic`; the view-only token opens it).
 */
export function registerMetricsRoutes(app: FastifyInstance, metrics: NodeMetrics, options: { metricsPublic: boolean }): void {
  app.get('/healthz', { config: { public: true } }, async () => ({ ok: true }));

  app.get('/readyz', { config: { public: true } }, async (_request, reply) => {
    const readiness = await metrics.readiness();
    void reply.code(readiness.ready ? 200 : 503);
    return readiness;
  });

  app.get('/metrics', { config: { public: options.metricsPublic, view: true } }, async (_request, reply) => {
    const text = await metrics.exposition();
    void reply.type(metrics.contentType).send(text);
  });
}
