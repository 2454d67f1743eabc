import test from 'ava';
import { parseByteSize } from '../src/byte-size.js';
import { checkDataUrl, dataUrlPath } from '../src/data-url.js';
import { KsError } from '../src/errors.js';
import { du } from '../index.js';

const accepted = ['a', 'mylarge/dataset', 'data/2024-01-01/part-0001.csv', ['x'.repeat(255), 'x'.repeat(255), 'x'.repeat(255), 'x'.repeat(254), 'x'].join('/'), 'x'.repeat(255), 'é/ü', 'a b/c?d#e', 'a..b', 'a/b.', 'ünïcode/ok'];
const rejected: [string, RegExp][] = [
  ['', /must not be empty/],
  ['../x', /"\." or "\.\." segment/],
  ['a/../../b', /"\." or "\.\." segment/],
  ['a/./b', /"\." or "\.\." segment/],
  ['/etc/passwd', /relative path, not an absolute one/],
  ['a//b', /no empty path segment/],
  ['a/', /no empty path segment/],
  ['a\0b', /NUL byte/],
  ['a\r\nSet-Cookie: x', /control characters .*0x0d at position 1/],
  ['a/b\nc', /control characters .*0x0a at position 3/],
  ['a\tb', /control characters .*0x09/],
  ['a\x1fb', /control characters .*0x1f/],
  ['a\x7fb', /control characters .*0x7f/],
  ['x'.repeat(1025), /at most 1024 bytes/],
  ['é'.repeat(513), /at most 1024 bytes/],
  ['.ks/redis/appendonly.aof', /may start with "\."/],
  ['a/.hidden', /may start with "\."/],
  ['x'.repeat(256), /segment .* is at most 255 bytes; one has 256/],
  [`a/${'é'.repeat(128)}/b`, /segment .* is at most 255 bytes; one has 256/],
];

test('valid data urls pass unchanged', (t) => {
  for (const url of accepted) t.is(checkDataUrl(url), url);
});

test('each hostile url is a bad_request naming the rule it breaks', (t) => {
  for (const [url, rule] of rejected) {
    const error = t.throws(() => checkDataUrl(url), { instanceOf: KsError }, url);
    t.is(error?.code, 'bad_request');
    t.is(error?.status, 400);
    t.regex(error?.message ?? '', rule, url);
  }
  t.throws(() => checkDataUrl(42), { message: /is a string/ });
});

test('the client refuses a hostile url before sending anything', (t) => {
  t.throws(() => du('../x'), { instanceOf: KsError, message: /"\." or "\.\." segment/ });
});

test('route paths encode each segment and keep the slashes', (t) => {
  t.is(dataUrlPath('a b/c?d#e'), 'a%20b/c%3Fd%23e');
  t.is(dataUrlPath('x/y'), 'x/y');
});

test('--min-free-disk sizes: plain bytes or binary units', (t) => {
  t.is(parseByteSize('1073741824'), 1024 ** 3);
  t.is(parseByteSize('1GiB'), 1024 ** 3);
  t.is(parseByteSize('1GB'), 1024 ** 3);
  t.is(parseByteSize('500MB'), 500 * 1024 ** 2);
  t.is(parseByteSize('1.5 kib'), 1536);
  t.throws(() => parseByteSize('lots'), { message: /not a size/ });
  t.throws(() => parseByteSize('-5MB'), { message: /not a size/ });
});
