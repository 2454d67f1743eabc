import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { Agent, request } from 'undici';
import { withoutPaths } from '../actors/data-holder/fs-errors.js';
import { KsError } from '../index.js';
import { startNode, startServices } from './helpers/cluster.js';
import { dataFiles, eventually, tempFiles } from './helpers/data.js';

function errno(code: string, fields: Partial<NodeJS.ErrnoException> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code, syscall: 'write', ...fields });
}

test('EDQUOT and ENOSPC map to 507 insufficient_storage, with or without a path, naming no path', (t) => {
  for (const [code, meaning] of [['EDQUOT', /quota is used up/], ['ENOSPC', /disk is full/]] as const) {
    for (const fields of [{}, { path: '/srv/secret/datadir/.ks/tmp/abc' }]) {
      const mapped = withoutPaths(errno(code, fields), 'a/b');
      t.true(mapped instanceof KsError, `${code} ${JSON.stringify(fields)}`);
      const error = mapped as KsError;
      t.is(error.code, 'insufficient_storage');
      t.is(error.status, 507);
      t.regex(error.message, meaning);
      t.regex(error.message, /data url "a\/b"/);
      t.notRegex(error.message, /secret/);
    }
  }
});

test('other errors without a path are left as they are (they are not filesystem answers)', (t) => {
  const plain = new Error('boom');
  t.is(withoutPaths(plain, 'a'), plain);
  const reset = errno('ECONNRESET');
  t.is(withoutPaths(reset, 'a'), reset);
});

/** A tmpfs of `size` mounted for this test, unmounted (and removed) whatever happens. */
function smallDisk(t: { teardown(fn: () => void): void }, size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'ks-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test.serial('a real ENOSPC during an upload (a tmpfs filled behind the disk guard\'s back): 507, nothing left, the node serves on', async (t) => {
  const disk = smallDisk(t, '8m');
  if (!disk) {
    t.log('cannot mount a tmpfs here (needs root): skipped');
    t.pass();
    return;
  }
  const datadir = join(disk, 'data');
  mkdirSync(datadir);
  const services = await startServices();
  t.teardown(() => services.stop());
  // --min-free-disk 0: the guard lets the write go until the filesystem itself says ENOSPC.
  const node = await startNode({ name: 'tiny-disk', services, datadir, flags: ['--min-free-disk', '0'] });
  t.teardown(() => node.stop());

  const body = new Readable({ read() {} });
  const chunk = Buffer.alloc(1 << 20, 7);
  body.push(chunk);
  const answer = request(new URL('rpc/data/full/upload', node.url), { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  // The first MiB reached the node's temp file: the guard measured the free space before this.
  await eventually(() => tempFiles(datadir).length === 1, 5000, 'the upload to start');
  // Someone else fills the disk: the guard cannot know, the filesystem refuses the next writes.
  try {
    writeFileSync(join(disk, 'filler'), Buffer.alloc(8 << 20, 1));
  } catch (error) {
    t.is((error as NodeJS.ErrnoException).code, 'ENOSPC', 'the filler took every byte left');
  }
  for (let i = 0; i < 4; i++) body.push(chunk);
  body.push(null);
  const response = await answer;
  const reply = (await response.body.json()) as { error: string; code: string };
  t.is(response.statusCode, 507, JSON.stringify(reply));
  t.is(reply.code, 'insufficient_storage');
  t.regex(reply.error, /data url "full\/upload" cannot be stored or read on this node: this node's disk is full/);
  t.notRegex(reply.error, new RegExp(disk));
  t.deepEqual(tempFiles(datadir), [], 'no temp file is left in .ks/tmp');
  t.deepEqual(dataFiles(datadir), []);

  // Room again: the node still serves and stores (on new connections: the refused upload's
  // connection still holds its unread rest).
  rmSync(join(disk, 'filler'));
  const fresh = new Agent();
  t.teardown(() => fresh.close());
  const ping = await request(new URL('rpc/ping', node.url), { dispatcher: fresh });
  t.is(ping.statusCode, 200);
  await ping.body.dump();
  const small = await request(new URL('rpc/data/full/small', node.url), { dispatcher: fresh, method: 'POST', body: 'fits now', headers: { 'content-type': 'application/octet-stream' } });
  t.is(small.statusCode, 200, await small.body.text());
  const read = await request(new URL('rpc/data/full/small', node.url), { dispatcher: fresh });
  t.is(await read.body.text(), 'fits now');
});
