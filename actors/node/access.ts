import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NodeConfig } from '../../src/config.js';
import { KsError } from '../../src/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route answers without any token (/healthz, /readyz, the dashboard's static files) */
    public?: boolean;
    /** a read-only route the view-only token (`--ui-token`) opens: the dashboard's data, /metrics, job history */
    view?: boolean;
  }
}

/** Route options of a read-only route that the view-only token opens. */
export const VIEW = { config: { view: true } } as const;

/**
 * The node's tokens (docs/dashboard.md#a-view-only-token): with `--token`, every route but
 * the public ones wants `Authorization: Bearer <token>`; a `--ui-token` also opens the routes
 * marked `view`, and gets a 403 everywhere else. A missing or wrong token is a 401. Neither
 * token is ever written to a log or an error message.
 */
export function installTokenCheck(app: FastifyInstance, config: Pick<NodeConfig, 'token' | 'uiToken'>): void {
  if (!config.token) return;
  const full = Buffer.from(`Bearer ${config.token}`);
  const view = config.uiToken ? Buffer.from(`Bearer ${config.uiToken}`) : undefined;
  app.addHook('onRequest', async (request) => {
    const options = request.routeOptions.config;
    if (options?.public) return;
    const given = Buffer.from(request.headers.authorization ?? '');
    if (same(given, full)) return;
    if (view && same(given, view)) {
      if (options?.view) return;
      throw new KsError('forbidden', `${describe(request)} needs the node's --token (KS_TOKEN): the view-only token (--ui-token) opens the dashboard, /metrics and the job history, and cannot submit, cancel, write or delete`);
    }
    throw new KsError('unauthorized', 'missing or wrong token: pass { token } to the Client (Authorization: Bearer <token>)');
  });
}

/** Checks a view token against the node's main token when the node starts. */
export function checkTokens(config: Pick<NodeConfig, 'token' | 'uiToken'>): void {
  if (config.uiToken === undefined) return;
  if (!config.token) throw new Error('--ui-token (KS_UI_TOKEN) needs --token (KS_TOKEN): without a token every route is open, so a view-only token would restrict nothing');
  if (config.uiToken === config.token) throw new Error('--ui-token must differ from --token: the view-only token would open everything');
  if (config.uiToken.length === 0) throw new Error('--ui-token is empty');
}

function same(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `POST /rpc/bulkcall`: the route's pattern, never its url (which could carry anything). */
function describe(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? 'this route'}`;
}
