import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ResultSpill } from '../actors/executor/result-spill.js';

const id = (n: number) => `000000000abcdef0123-${String(n).padStart(5, '0')}`;

function tempSpill(t: { teardown(fn: () => void): void }, options = { holdMs: 60_000, maxHeldBytes: 1 << 30 }) {
  const dir = mkdtempSync(join(tmpdir(), 'ks-spill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, spill: new ResultSpill(join(dir, 'results'), options) };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('a kept result is read from memory, with no file, and discarding it leaves nothing', async (t) => {
  const { dir, spill } = tempSpill(t);
  const bytes = new Uint8Array([1, 2, 3]);
  spill.keep(id(1), bytes);
  t.is(await spill.read(id(1), false), bytes, 'the same bytes, not a copy');
  t.false(existsSync(join(dir, 'results', id(1))));
  spill.discard(id(1));
  await t.throwsAsync(spill.read(id(1), false), { message: /no spilled result/ });
});

test('a result not taken within holdMs goes to disk, is still readable, and a discard removes the file', async (t) => {
  const { dir, spill } = tempSpill(t, { holdMs: 30, maxHeldBytes: 1 << 30 });
  spill.keep(id(2), new Uint8Array([9, 8, 7]));
  const file = join(dir, 'results', id(2));
  await until(() => existsSync(file));
  t.deepEqual([...readFileSync(file)], [9, 8, 7]);
  t.deepEqual([...(await spill.read(id(2), false))], [9, 8, 7]);
  spill.discard(id(2));
  await until(() => !existsSync(file));
  t.false(existsSync(file));
});

test('beyond maxHeldBytes the oldest results go to disk at once; all stay readable', async (t) => {
  const { dir, spill } = tempSpill(t, { holdMs: 60_000, maxHeldBytes: 2500 });
  for (let n = 0; n < 4; n++) spill.keep(id(n), new Uint8Array(1000).fill(n));
  await until(() => existsSync(join(dir, 'results', id(1))));
  t.true(existsSync(join(dir, 'results', id(0))));
  t.true(existsSync(join(dir, 'results', id(1))));
  t.false(existsSync(join(dir, 'results', id(3))), 'the newest stay in memory');
  for (let n = 0; n < 4; n++) t.true((await spill.read(id(n), false)).every((b) => b === n));
});

test('persistAll writes what is held; a new process reads it from disk, and consume removes it', async (t) => {
  const { dir, spill } = tempSpill(t);
  spill.keep(id(5), new Uint8Array([5]));
  await spill.persistAll();
  const later = new ResultSpill(join(dir, 'results'));
  t.deepEqual([...(await later.read(id(5), true))], [5]);
  t.false(existsSync(join(dir, 'results', id(5))));
});

test('ids that are not job ids are refused', (t) => {
  const { spill } = tempSpill(t);
  t.throws(() => spill.keep('../../etc/passwd', new Uint8Array(1)), { message: /not a job id/ });
});
