import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { KsError, type ErrorCode } from '../../src/errors.js';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_VALIDATION: 'bad_request',
};

/** Every error leaves the node as JSON `{ error, code }` with a 4xx/5xx status. */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let status = 500;
  let code: ErrorCode = 'internal';
  let message = error instanceof Error ? error.message : String(error);
  if (isConnectionLoss(error)) {
    status = 503;
    code = 'unavailable';
    message = 'this node lost its connection to Redis while answering: try again later or another node';
  } else if (error instanceof KsError) {
    status = error.status;
    code = error.code;
  } else if (error instanceof ZodError) {
    status = 400;
    code = 'bad_request';
    message = `invalid request body: ${error.issues.slice(0, 5).map(describeIssue).join('; ')}`;
  } else {
    const fe = error as FastifyError;
    const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
    if (mapped) {
      code = mapped;
      status = fe.statusCode ?? 400;
      if (code === 'unsupported_media_type') message = `${message}: request bodies are CBOR (content-type: application/cbor)`;
    } else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      status = fe.statusCode;
      code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request';
    }
  }
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  void reply.code(status).type('application/json').send({ error: message, code });
}

/** A zod issue as one phrase; a bad record key says why the key is bad, not just that it is. */
function describeIssue(issue: ZodError['issues'][number]): string {
  const where = issue.path.join('.') || '(body)';
  const inner = 'issues' in issue && Array.isArray(issue.issues) ? (issue.issues as { message: string }[]).map((i) => i.message) : [];
  return inner.length > 0 ? `${where}: ${issue.message} (${inner.join(', ')})` : `${where}: ${issue.message}`;
}

/** ioredis's errors for a command that met a lost connection (its internals mean nothing to a client). */
function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'MaxRetriesPerRequestError' || /^(Connection is closed\.|Stream isn't writeable)/.test(error.message);
}
