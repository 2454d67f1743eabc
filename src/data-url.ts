import { KsError } from './errors.js';

/** Longest data url accepted, in UTF-8 bytes. */
export const MAX_DATA_URL_BYTES = 1024;
/** Longest segment accepted, in UTF-8 bytes: the name limit of common filesystems (ext4, xfs, btrfs). */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Checks a data url (architecture §6) and returns it unchanged, or throws a `bad_request` KsError
 * naming the rule it breaks. A data url is a relative POSIX path under a node's data
 * directory: not empty, at most 1,024 bytes, no NUL or other control character, not absolute, no empty segment
 * (`a//b`, a trailing `/`), no segment over 255 bytes (a file name the disk could not hold),
 * and no segment that starts with a dot: that rules out `.` and
 * `..` (no way out of the data directory) and hidden names such as `.ks`, where the node
 * keeps its own files. The client and the node both use this check.
 */
export function checkDataUrl(url: unknown): string {
  const fail = (rule: string): never => {
    const shown = typeof url === 'string' ? JSON.stringify(url.length > 80 ? `${url.slice(0, 80)}...` : url) : String(url);
    throw new KsError('bad_request', `invalid data url ${shown}: ${rule}`);
  };
  if (typeof url !== 'string') return fail('a data url is a string');
  if (url.length === 0) return fail('a data url must not be empty');
  if (Buffer.byteLength(url, 'utf8') > MAX_DATA_URL_BYTES) return fail(`a data url is at most ${MAX_DATA_URL_BYTES} bytes`);
  if (url.includes('\0')) return fail('a data url must not contain a NUL byte');
  // CR and LF would split a log line, a header or a listing; the other control characters are no better.
  const control = /[\x00-\x1f\x7f]/.exec(url);
  if (control) return fail(`a data url must not contain control characters (CR, LF, tab, any character below 0x20, DEL); it has 0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')} at position ${control.index}`);
  if (url.startsWith('/')) return fail('a data url is a relative path, not an absolute one');
  for (const segment of url.split('/')) {
    if (segment.length === 0) return fail('a data url has no empty path segment (no "//", no leading or trailing "/")');
    if (segment === '.' || segment === '..') return fail('a data url has no "." or ".." segment');
    if (segment.startsWith('.')) return fail('no segment of a data url may start with "." (hidden names are reserved for the node)');
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      return fail(`each segment of a data url (a file or folder name) is at most ${MAX_SEGMENT_BYTES} bytes; one has ${Buffer.byteLength(segment, 'utf8')}`);
    }
  }
  return url;
}

/** A url as a path in an HTTP route: each segment percent-encoded, slashes kept. */
export function dataUrlPath(url: string): string {
  return checkDataUrl(url).split('/').map(encodeURIComponent).join('/');
}
