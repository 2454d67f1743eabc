import test from 'ava';
import { encodeEventFrame, encodeFrame, FrameReader, SEPARATE_RESULT_BYTES } from '../src/frames.js';
import type { JobEvent } from '../src/protocol.js';

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

test('event frames written in parts (large results not copied) read back as the events, split anywhere', (t) => {
  const big = (n: number, fill: number) => new Uint8Array(n).fill(fill);
  const sharedError = { name: 'NodeLost', message: 'the same object in two events' };
  const events: JobEvent[] = [
    { type: 'output', id: 'b-00000', stream: 'stdout', text: 'hello\n' },
    { type: 'done', id: 'b-00000', result: big(SEPARATE_RESULT_BYTES, 1) },
    { type: 'done', id: 'b-00001', result: new Uint8Array([1, 2, 3]) },
    { type: 'failed', id: 'b-00002', error: sharedError },
    { type: 'failed', id: 'b-00003', error: sharedError },
    { type: 'done', id: 'b-00005', result: big(70_000, 3) },
    ...Array.from({ length: 30 }, (_, i): JobEvent => ({ type: 'output', id: `b-${i}`, stream: 'stderr', text: '€'.repeat(i) })),
  ];
  const parts = encodeEventFrame(events);
  t.true(parts.includes(events[1].type === 'done' ? events[1].result : new Uint8Array()), 'the large result itself is a part, not a copy');
  const wire = Buffer.concat([...parts, ...encodeEventFrame(events.slice(2, 4))]);
  for (const step of [1, 7, 4096, 65_536, wire.length]) {
    const reader = new FrameReader<JobEvent[]>();
    const frames: JobEvent[][] = [];
    for (let i = 0; i < wire.length; i += step) frames.push(...reader.push(wire.subarray(i, i + step)));
    t.is(reader.leftover, 0);
    t.is(frames.length, 2, `chunks of ${step}`);
    const normalize = (list: JobEvent[]) => list.map((e) => (e.type === 'done' ? { ...e, result: Buffer.from(e.result) } : e));
    t.deepEqual(normalize(frames[0]), normalize(events));
    t.deepEqual(normalize(frames[1]), normalize(events.slice(2, 4)));
  }
});

test('an event frame without large results is one part, and the same CBOR', (t) => {
  const events: JobEvent[] = [{ type: 'done', id: 'x-00000', result: new Uint8Array([7]) }, { type: 'output', id: 'x-00001', stream: 'stdout', text: 'a' }];
  const parts = encodeEventFrame(events);
  t.is(parts.length, 1);
  const reader = new FrameReader<JobEvent[]>();
  t.deepEqual(reader.push(parts[0]), [events]);
});
