import test from 'ava';
import { encodeFrame, FrameReader } from '../src/frames.js';

test('frames split at every possible byte boundary decode to the same values', (t) => {
  const values = [{ a: 1 }, [1, 2, 3], 'x'.repeat(1000), new Uint8Array(70_000).fill(7), null];
  const wire = Buffer.concat(values.map((v) => encodeFrame(v)));
  for (const step of [1, 3, 4, 5, 64, 4096, wire.length]) {
    const reader = new FrameReader<unknown>();
    const out: unknown[] = [];
    for (let i = 0; i < wire.length; i += step) out.push(...reader.push(wire.subarray(i, i + step)));
    t.deepEqual(out, values, `chunks of ${step}`);
    t.is(reader.leftover, 0);
  }
});

test('a truncated stream leaves bytes over', (t) => {
  const reader = new FrameReader<unknown>();
  const frame = encodeFrame({ hello: 'world' });
  t.deepEqual(reader.push(frame.subarray(0, frame.length - 1)), []);
  t.true(reader.leftover > 0);
});
