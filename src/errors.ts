/** Error codes carried by every JSON error the HTTP API returns: `{ error, code }`. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  /** a valid token that may not do this (the view-only `--ui-token` on a route that acts) */
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'compile_error'
  | 'unknown_function'
  | 'no_route'
  | 'insufficient_storage'
  | 'corrupt_data'
  | 'unavailable'
  /** the client waited longer than its `requestTimeoutMs` (never sent by a node) */
  | 'timeout'
  | 'internal';

const statusOf: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  compile_error: 400,
  unknown_function: 400,
  no_route: 409,
  insufficient_storage: 507,
  corrupt_data: 502,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/** An error that knows its HTTP status and wire code; thrown by the node, rebuilt by the client. */
export class KsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KsError';
    this.code = code;
    this.status = options?.status ?? statusOf[code];
  }
}

/**
 * A call of a registered name that `where` ("the live nodes", "this node") does not register,
 * listing the names registered there.
 */
export function unknownFunction(name: string, registered: Iterable<string>, where: string, prefix = ''): KsError {
  const names = [...registered].sort().join(', ');
  const known = names ? `; registered functions: ${names}` : ` (no function is registered: a node registers the functions its --module file exports)`;
  return new KsError('unknown_function', `${prefix}unknown function "${name}": not registered on ${where}${known}`);
}

/** What a failed job carries across the wire. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  stack?: string;
}

/**
 * A task failed on the cluster. `name`, `message` and `remoteStack` are the remote error's;
 * `stack` shows the remote stack first, then where the caller received it.
 */
export class RemoteError extends Error {
  readonly remoteName: string;
  readonly remoteStack: string | undefined;
  readonly jobId: string;
  constructor(jobId: string, received: RemoteErrorInfo) {
    const info = checkedErrorInfo(received);
    super(info.message);
    this.name = 'RemoteError';
    this.remoteName = info.name;
    this.remoteStack = info.stack;
    this.jobId = jobId;
    const local = this.stack?.split('\n').slice(1).join('\n') ?? '';
    this.stack = `RemoteError [${info.name}] in job ${jobId}: ${info.message}\n` +
      `  remote stack:\n${indent(info.stack ?? `${info.name}: ${info.message}`)}\n  received at:\n${local}`;
  }
}

/** The job was cancelled (`c.cancel`, `bulkCancel`, `cancelAll`, or a failure earlier in its batch). */
export class CancelledError extends RemoteError {}
/** The job ran longer than its `timeoutMs`; its worker thread was stopped. */
export class TimeoutError extends RemoteError {}
/** The worker thread running the job died (`process.exit`, an uncaught error in a timer). */
export class WorkerCrashed extends RemoteError {}
/** The node running the job was lost and the job was not run again. */
export class NodeLost extends RemoteError {}
/** No live node serves the job's queue any more. */
export class NoRoute extends RemoteError {}
/** The job's outcome is gone: expired or deleted from Redis, or kept on a node that is gone. */
export class JobLost extends RemoteError {}
/** An input of the job (a future passed as an argument) failed or was cancelled: `jobId` is the input's, the message carries its error. */
export class DependencyFailed extends RemoteError {}

const remoteErrorClasses: Record<string, new (jobId: string, received: RemoteErrorInfo) => RemoteError> = {
  CancelledError, TimeoutError, WorkerCrashed, NodeLost, NoRoute, JobLost, DependencyFailed,
};

/**
 * The RemoteError for a failed job: the subclass named by the remote error's name when it is
 * one of kitchensink's own (`CancelledError`...), so callers can test with `instanceof`.
 */
export function remoteErrorFor(jobId: string, received: RemoteErrorInfo): RemoteError {
  const name = checkedErrorInfo(received).name;
  const ErrorClass = Object.hasOwn(remoteErrorClasses, name) ? remoteErrorClasses[name] : RemoteError;
  return new ErrorClass(jobId, received);
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line.trim()}`).join('\n');
}

/**
 * Turns anything thrown (including non-Error values) into the wire form: string name and
 * message, and a string stack or none. Never throws, whatever the value (getters that
 * throw, proxies, symbols, a `message` that is not a string).
 */
export function toRemoteErrorInfo(thrown: unknown): RemoteErrorInfo {
  if (safely(() => thrown instanceof Error, false)) {
    const error = thrown as Error;
    // As Error.prototype.toString reads them: a missing name is "Error", a missing message "".
    const name = safely(() => error.name, undefined);
    const message = safely(() => error.message, UNREADABLE);
    const stack = safely(() => error.stack, undefined);
    return {
      name: name === undefined ? 'Error' : text(name),
      message: message === undefined ? '' : text(message),
      stack: typeof stack === 'string' ? stack : undefined,
    };
  }
  const rendered = typeof thrown === 'string' ? thrown : safely(() => JSON.stringify(thrown) ?? text(thrown), text(thrown));
  return { name: 'NonErrorThrown', message: `a non-Error value was thrown: ${rendered}` };
}

/**
 * The error info as received from another thread or process, with string fields whatever
 * was sent (what `toRemoteErrorInfo` makes always passes unchanged).
 */
export function checkedErrorInfo(info: unknown): RemoteErrorInfo {
  const { name, message, stack } = (typeof info === 'object' && info !== null ? info : {}) as Partial<Record<keyof RemoteErrorInfo, unknown>>;
  if (typeof name === 'string' && typeof message === 'string' && (stack === undefined || typeof stack === 'string')) {
    return info as RemoteErrorInfo;
  }
  return { name: text(name ?? 'Error'), message: text(message ?? ''), stack: typeof stack === 'string' ? stack : undefined };
}

const UNREADABLE = '(the error\'s message could not be read)';

function safely<T, F>(read: () => T, fallback: F): T | F {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** A string for any value, never throwing. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  return safely(() => String(value), undefined) ?? safely(() => Object.prototype.toString.call(value), `[${typeof value}]`);
}
