import { MessageChannel, type MessagePort } from 'node:worker_threads';
import test from 'ava';
import { WorkerOutbox, OUTBOX_DEFAULTS, type OutboxPort } from '../actors/executor/worker-outbox.js';
import type { WorkerMessage, WorkerReport } from '../actors/executor/worker-protocol.js';
import { decode, encode } from '../src/codec.js';

/** A port that records what is posted, synchronously. */
function recordingPort(): OutboxPort & { messages: WorkerReport[][] } {
  const messages: WorkerReport[][] = [];
  return { messages, postMessage: (message) => messages.push(message as WorkerReport[]) };
}

function nextMessage(port: MessagePort): Promise<WorkerMessage> {
  return new Promise((resolve) => port.once('message', resolve));
}

test('after a 1 MiB result, a small result crosses the port in a buffer of its own size, not the encoder\'s', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => port1.close());
  const outbox = new WorkerOutbox(port1);
  const big = encode(new Uint8Array(1 << 20).fill(1));
  const small = encode(42);
  // The bug this guards against: cbor-x returns views of one shared buffer, which grew past
  // 1 MiB, and posting a view copies its whole buffer.
  t.true(small.buffer.byteLength > 1 << 20, 'precondition: the small result is a view of a large shared buffer');
  outbox.done('a', big, 1);
  outbox.flush();
  const [first] = await nextMessage(port2);
  outbox.done('b', small, 1);
  outbox.flush();
  const [second] = await nextMessage(port2);
  t.is(first.t, 'done');
  t.is(second.t, 'done');
  const bigBytes = (first as { r: Uint8Array }).r;
  const smallBytes = (second as { r: Uint8Array }).r;
  t.is(bigBytes.buffer.byteLength, big.byteLength);
  t.is(smallBytes.buffer.byteLength, small.byteLength);
  t.is(decode(smallBytes), 42);
  t.is((decode(bigBytes) as Uint8Array).byteLength, 1 << 20);
});

test('small results of one message share one buffer of their total size', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => port1.close());
  const outbox = new WorkerOutbox(port1);
  encode('x'.repeat(100_000)); // the encoder's shared buffer is now large
  for (let i = 0; i < 10; i++) outbox.done(`j${i}`, encode(i), 0);
  outbox.flush();
  const reports = await nextMessage(port2);
  const results = reports.map((r) => (r as { r: Uint8Array }).r);
  t.deepEqual(results.map((r) => decode(r)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.is(new Set(results.map((r) => r.buffer)).size, 1);
  t.is(results[0].buffer.byteLength, results.reduce((sum, r) => sum + r.byteLength, 0));
});

test('the sender keeps nothing it transferred: encoding goes on after a flush', (t) => {
  const port = recordingPort();
  const outbox = new WorkerOutbox(port);
  const bytes = encode({ a: 1 });
  outbox.done('a', bytes, 0);
  outbox.flush();
  t.deepEqual(decode(bytes), { a: 1 }, 'the original view is untouched (a copy was posted)');
  t.deepEqual(decode(encode({ b: 2 })), { b: 2 });
});

test('output of one job on one stream is joined; jobs and streams keep their order, outcomes last', (t) => {
  const port = recordingPort();
  const outbox = new WorkerOutbox(port, { ...OUTBOX_DEFAULTS, outputDelayMs: 60_000 });
  outbox.output('a', 'stdout', 'one\n');
  outbox.output('a', 'stdout', 'two\n');
  outbox.output('a', 'stderr', 'oops\n');
  outbox.output('a', 'stdout', 'three\n');
  outbox.done('a', encode(1), 0);
  outbox.output('b', 'stdout', 'b says\n');
  outbox.failed('b', { name: 'Error', message: 'no' }, 0);
  t.is(port.messages.length, 0, 'nothing is sent before the flush');
  outbox.flush();
  t.is(port.messages.length, 1);
  const reports = port.messages[0].map((r) => (r.t === 'done' ? { ...r, r: decode(r.r) } : r));
  t.deepEqual(reports, [
    { t: 'out', id: 'a', s: 'stdout', d: 'one\ntwo\n' },
    { t: 'out', id: 'a', s: 'stderr', d: 'oops\n' },
    { t: 'out', id: 'a', s: 'stdout', d: 'three\n' },
    { t: 'done', id: 'a', r: 1, ms: 0 },
    { t: 'out', id: 'b', s: 'stdout', d: 'b says\n' },
    { t: 'fail', id: 'b', e: { name: 'Error', message: 'no' }, ms: 0 },
  ]);
});

test('output is sent from the write itself once it waited outputDelayMs, so a busy synchronous task still streams', (t) => {
  const port = recordingPort();
  const outbox = new WorkerOutbox(port, { ...OUTBOX_DEFAULTS, outputDelayMs: 5 });
  outbox.output('a', 'stdout', 'first\n');
  const until = performance.now() + 6;
  while (performance.now() < until) {
    // a synchronous loop: no timer can fire
  }
  outbox.output('a', 'stdout', 'second\n');
  t.is(port.messages.length, 1);
  t.deepEqual(port.messages[0], [{ t: 'out', id: 'a', s: 'stdout', d: 'first\nsecond\n' }]);
  outbox.flush();
});

test('output is sent as soon as outputChars are waiting', (t) => {
  const port = recordingPort();
  const outbox = new WorkerOutbox(port, { ...OUTBOX_DEFAULTS, outputDelayMs: 60_000, outputChars: 100 });
  for (let i = 0; i < 9; i++) outbox.output('a', 'stdout', 'x'.repeat(10));
  t.is(port.messages.length, 0);
  outbox.output('a', 'stdout', 'x'.repeat(10));
  t.is(port.messages.length, 1);
  t.is((port.messages[0][0] as { d: string }).d.length, 100);
});

test('waiting output goes out after outputDelayMs when the task awaits; outcomes at the next turn', async (t) => {
  const port = recordingPort();
  const outbox = new WorkerOutbox(port, { ...OUTBOX_DEFAULTS, outputDelayMs: 20 });
  outbox.output('a', 'stdout', 'hello\n');
  await new Promise((r) => setImmediate(r));
  t.is(port.messages.length, 0, 'output alone waits for its delay');
  await new Promise((r) => setTimeout(r, 40));
  t.is(port.messages.length, 1);
  outbox.done('a', encode(null), 0);
  t.true(outbox.waitingSince >= 0);
  await new Promise((r) => setImmediate(r));
  t.is(port.messages.length, 2);
  t.is(outbox.waitingSince, -1);
});

test('an owned result is transferred as it is, not copied', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => port1.close());
  const outbox = new WorkerOutbox(port1);
  const own = new Uint8Array(100_000).fill(5);
  outbox.done('a', own, 0, true);
  outbox.flush();
  const [report] = await nextMessage(port2);
  t.is(own.byteLength, 0, 'detached here: it moved to the other side');
  t.is((report as { r: Uint8Array }).r.byteLength, 100_000);
});
