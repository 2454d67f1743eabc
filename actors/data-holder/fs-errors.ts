import { KsError, type ErrorCode } from '../../src/errors.js';

/** What a filesystem error means to a client, by errno code. */
const meanings: Record<string, [ErrorCode, string]> = {
  ENAMETOOLONG: ['bad_request', 'its path is longer than this node\'s filesystem allows (use a shorter url)'],
  ENOSPC: ['insufficient_storage', 'this node\'s disk is full'],
  EDQUOT: ['insufficient_storage', 'this node\'s disk quota is used up'],
  ENOTDIR: ['conflict', 'a folder on its path is a file on this node'],
  EISDIR: ['conflict', 'it is a folder on this node'],
  EEXIST: ['conflict', 'something is already at its path on this node'],
  EACCES: ['internal', 'this node may not access its data directory there (permission denied)'],
  EPERM: ['internal', 'this node may not access its data directory there (operation not permitted)'],
  EROFS: ['internal', 'this node\'s data directory is on a read-only filesystem'],
};

/** Errors that mean "no room", whatever call met them: a 507 even without a path. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A filesystem error (it carries the node's absolute `path`) as a KsError saying what went
 * wrong in terms of the data url, so no answer reveals where the node keeps its data. A full
 * disk or quota is a 507 also when the failing call had no path (a `write` on an open file).
 * Any other error is returned unchanged.
 */
export function withoutPaths(error: unknown, url: string | undefined): unknown {
  if (!(error instanceof Error)) return error;
  const errno = String((error as NodeJS.ErrnoException).code);
  if (typeof (error as NodeJS.ErrnoException).path !== 'string' && !FULL.has(errno)) return error;
  const [code, meaning] = meanings[errno] ?? ['internal', `this node's filesystem failed (${errno})`];
  const subject = url === undefined ? 'a data operation failed' : `data url ${JSON.stringify(url)} cannot be stored or read on this node`;
  return new KsError(code, `${subject}: ${meaning}`, { cause: error });
}
