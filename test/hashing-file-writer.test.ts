import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { HashingFileWriter } from '../src/hashing-file-writer.js';
import { scratchDir } from './helpers/data.js';

const scratch = scratchDir('writer');
test.after.always(() => scratch.cleanup());

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
let n = 0;
const path = () => join(scratch.dir, `file-${n++}`);

test('large and tiny chunks land in the file with their sha256 and size', async (t) => {
  const chunks = [randomBytes(3 << 20), ...Array.from({ length: 5000 }, () => randomBytes(7)), randomBytes(65_536)];
  const file = path();
  const writer = new HashingFileWriter(file, { sync: true });
  await pipeline(Readable.from(chunks), writer);
  const all = Buffer.concat(chunks);
  t.is(writer.size, all.length);
  t.is(writer.sha256, sha(all));
  t.true(readFileSync(file).equals(all));
});

test('the file is created exclusively', async (t) => {
  const file = path();
  writeFileSync(file, 'already here');
  await t.throwsAsync(pipeline(Readable.from([Buffer.from('x')]), new HashingFileWriter(file)), { code: 'EEXIST' });
  t.is(readFileSync(file, 'utf8'), 'already here');
});

test('a check that throws stops the write with its error', async (t) => {
  const writer = new HashingFileWriter(path(), {
    check: (written) => {
      if (written > 1 << 20) throw new Error('too much');
    },
  });
  await t.throwsAsync(pipeline(Readable.from(Array.from({ length: 10 }, () => randomBytes(256 << 10))), writer), { message: 'too much' });
});

test('a forward stream gets every byte; one that fails is dropped and the file still completes', async (t) => {
  const chunks = Array.from({ length: 40 }, () => randomBytes(100_000));
  const forwarded: Buffer[] = [];
  const forward = new PassThrough();
  forward.on('data', (c: Buffer) => forwarded.push(c));
  await pipeline(Readable.from(chunks), new HashingFileWriter(path(), { forward }));
  t.true(Buffer.concat(forwarded).equals(Buffer.concat(chunks)));

  let taken = 0;
  const failing = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      taken += chunk.length;
      if (taken > 500_000) callback(new Error('next hop gone'));
      else setTimeout(callback, 1);
    },
  });
  failing.on('error', () => undefined);
  const file = path();
  const writer = new HashingFileWriter(file, { forward: failing });
  await pipeline(Readable.from(chunks), writer);
  t.is(writer.sha256, sha(Buffer.concat(chunks)));
  t.is(readFileSync(file).length, 4_000_000);
});
