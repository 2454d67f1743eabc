import test from 'ava';
import { parseLedger, runningOn } from '../benchmarks/chaos/side-effects.js';
import { formatErrors, tally, type BatchRecord, type DeliveryRecord } from '../benchmarks/chaos/tally.js';

const ledger = parseLedger([
  'S t0 n1 100', 'E t0 n1 110', // ran once, delivered once
  'S t1 n2 100', 'E t1 n2 120', 'S t1 n3 200', 'E t1 n3 210', // ran twice (a lost node), delivered once
  'S t2 n1 100', 'E t2 n1 105', // ran, but the head reported it lost
  // t3 never ran and was never answered
  'S t4 n2 130', // a call of a refused submit that started all the same
  'S t6 n1 140', 'E t6 n1 150', // a call of a timed-out submit: the node had taken it
  'garbage line', '',
].join('\n'));

const batches: BatchRecord[] = [
  { tokens: ['t0', 't1', 't2', 't3'], ids: ['b1-0', 'b1-1', 'b1-2', 'b1-3'] },
  { tokens: ['t4', 't5'], submitError: 'internal' },
  { tokens: ['t6', 't7'], submitError: 'timeout' },
];
const deliveries: DeliveryRecord[] = [
  { id: 'b1-0', at: 1 },
  { id: 'b1-1', at: 2 },
  { id: 'b1-1', at: 3 }, // delivered twice
  { id: 'b1-2', at: 4, failure: 'JobLost' },
];

test('the ledger keeps well-formed start and end lines only', (t) => {
  t.is(ledger.length, 11);
  t.deepEqual(ledger[0], { kind: 'start', token: 't0', node: 'n1', at: 100 });
});

test('tally counts submitted, delivered, executed, lost, duplicated and refused-but-ran apart', (t) => {
  const counts = tally(batches, deliveries, ledger, ['stream_ended', 'stream_ended']);
  t.like(counts, {
    submitted: 4,
    delivered: 2, // t0, t1
    executed: 3, // t0, t1, t2
    lost: 2, // t2 (JobLost), t3 (nothing)
    unanswered: 1, // t3
    lostButRan: 1, // t2
    duplicatedExecutions: 1, // t1
    duplicatedDeliveries: 1, // b1-1
    refused: 2,
    refusedRan: 1, // t4 started
    timedOut: 2,
    timedOutRan: 1, // t6: not a refusal
  });
  t.deepEqual(counts.errors, { 'submit:internal': 1, 'submit:timeout': 1, 'job:JobLost': 1, 'collect:stream_ended': 2 });
  t.is(formatErrors(counts.errors), 'collect:stream_ended×2 job:JobLost×1 submit:internal×1 submit:timeout×1');
  t.is(formatErrors({}), '-');
});

test('a node\'s running jobs at a moment are those it started and had not ended by then', (t) => {
  t.deepEqual(runningOn(ledger, 'n2', 115), ['t1']);
  t.deepEqual(runningOn(ledger, 'n2', 140), ['t4']);
  t.deepEqual(runningOn(ledger, 'n1', 150), []);
});
