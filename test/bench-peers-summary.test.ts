import test from 'ava';
import { cpuWorkloads, formatFigure, ksAdvantage, median, rotate, type WorkloadSpec } from '../benchmarks/peers/figures.js';
import { chartSpec, markdownTable, summarize, type Collected, type SystemSummary } from '../benchmarks/peers/summary.js';

test('median of odd and even counts; nothing has no median', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(median([7]), 7);
  t.throws(() => median([]), { instanceOf: RangeError });
});

test("kitchensink's advantage is above 1 when it is better, whichever way the unit points", (t) => {
  t.is(ksAdvantage(10_000, 5_000, 'higher'), 2); // tasks/s
  t.is(ksAdvantage(1, 2, 'lower'), 2); // ms
  t.is(ksAdvantage(4, 2, 'lower'), 0.5);
});

test('rotation starts each repetition with the next system and keeps every system once', (t) => {
  const systems = ['ks', 'bull', 'rq'];
  t.deepEqual(rotate(systems, 0), ['ks', 'bull', 'rq']);
  t.deepEqual(rotate(systems, 1), ['bull', 'rq', 'ks']);
  t.deepEqual(rotate(systems, 4), ['bull', 'rq', 'ks']);
  t.deepEqual(rotate([], 2), []);
});

test('figures are formatted to about three significant digits', (t) => {
  t.is(formatFigure(11_234.4), '11,234');
  t.is(formatFigure(10.75), '10.8');
  t.is(formatFigure(1.0392), '1.04');
  t.is(formatFigure(0.2154), '0.215');
});

const workloads: WorkloadSpec[] = [
  {
    id: 'bulk',
    label: 'bulk',
    params: { n: 1000 },
    warmup: { n: 10 },
    figures: [{ key: 'rate', label: 'bulk rate', unit: 'tasks/s', better: 'higher', from: (r, p) => p.n / r.seconds! }],
  },
  {
    id: 'print',
    label: 'print',
    params: { n: 10 },
    warmup: { n: 1 },
    figures: [{ key: 'ms', label: 'print', unit: 'ms', better: 'lower', from: (r) => r.ms! }],
  },
  {
    id: 'extra',
    label: 'extra',
    params: { n: 1 },
    warmup: { n: 1 },
    only: ['kitchensink'],
    figures: [{ key: 'ms', label: 'extra', unit: 'ms', better: 'lower', from: (r) => r.ms! }],
  },
];

const systems: SystemSummary[] = [
  { id: 'kitchensink', name: 'kitchensink', color: '#000' },
  { id: 'peer', name: 'Peer', color: '#111' },
  { id: 'quiet', name: 'Quiet', color: '#222' },
  { id: 'absent', name: 'Absent', color: '#333', skipped: 'not installed' },
];

const collected: Collected = {
  runs: {
    bulk: {
      kitchensink: [{ seconds: 0.1 }, { seconds: 0.2 }, { seconds: 0.1 }],
      peer: [{ seconds: 0.4 }, { seconds: 0.5 }, { seconds: 0.3 }],
      quiet: [{ seconds: 1 }, { seconds: 1 }, { seconds: 1 }],
    },
    print: { kitchensink: [{ ms: 50 }, { ms: 70 }, { ms: 60 }], peer: [{ ms: 30 }, { ms: 30 }, { ms: 30 }], quiet: [{ na: 'no output' }] },
    extra: { kitchensink: [{ ms: 1 }] },
  },
  errors: { bulk: {}, print: {}, extra: {} },
};

test('summaries take medians per system and ratios against kitchensink, with n/a and skipped systems kept apart', (t) => {
  const [bulk, print, extra] = summarize(workloads, systems, collected);
  t.deepEqual(bulk.cells.kitchensink, { median: 10_000, samples: [10_000, 5_000, 10_000] });
  t.is(bulk.ratios.peer, 10_000 / (1000 / 0.4));
  t.is(bulk.ratios.quiet, 10);
  t.false('absent' in bulk.cells);
  t.deepEqual(print.cells.quiet, { na: 'no output' });
  t.is(print.ratios.peer, 0.5); // the peer is twice as fast here
  t.false('quiet' in print.ratios);
  t.true(bulk.headToHead);
  t.false(extra.headToHead);
  t.deepEqual(Object.keys(extra.cells), ['kitchensink']);
});

test('the chart has one group per head-to-head figure and bars relative to kitchensink', (t) => {
  const spec = chartSpec(summarize(workloads, systems, collected), systems, 'machine');
  t.deepEqual(spec.series.map((s) => s.name), ['kitchensink', 'Peer', 'Quiet']);
  t.is(spec.groups.length, 2);
  const [bulk, print] = spec.groups;
  t.deepEqual(bulk.bars.map((b) => b.value), [1, 0.25, 0.1]);
  t.is(print.bars[1].value, 2);
  t.is(print.bars[2].value, null);
  t.regex(print.bars[2].label, /n\/a: no output/);
});

test('the markdown table has a row per figure and a column per system that ran', (t) => {
  const lines = markdownTable(summarize(workloads, systems, collected), systems).split('\n');
  t.is(lines.length, 2 + 3);
  t.is(lines[0], '| workload | unit | kitchensink | Peer | Quiet |');
  t.is(lines[2], '| bulk rate | tasks/s | 10,000 | 2,500 (4.00×) | 1,000 (10×) |');
  t.is(lines[3], '| print | ms | 60.0 | 30.0 (0.50×) | n/a |');
});

test('the CPU figures cover every shared workload once, lower is better, from the runner-added cpu field', (t) => {
  const cpu = cpuWorkloads(workloads);
  t.deepEqual(cpu.map((w) => w.id), ['bulk', 'print']);
  t.true(cpu.every((w) => w.figures.length === 1 && w.figures[0].better === 'lower' && w.figures[0].unit === 'CPU s'));
  const [bulk] = summarize(cpu, systems, {
    runs: { bulk: { kitchensink: [{ seconds: 1, cpu: 2 }], peer: [{ seconds: 1, cpu: 3 }] } },
    errors: {},
  });
  t.is(bulk.ratios.peer, 1.5);
});

test('CPU figures below /proc resolution print as <0.02, with no ratio either way', (t) => {
  const cpu = cpuWorkloads(workloads);
  const figures = summarize(cpu, systems, {
    runs: {
      bulk: { kitchensink: [{ cpu: 0.01 }], peer: [{ cpu: 0.19 }], quiet: [{ cpu: 0.5 }] },
      print: { kitchensink: [{ cpu: 0.3 }], peer: [{ cpu: 0 }], quiet: [{ cpu: 0.6 }] },
    },
    errors: {},
  });
  const [bulk, print] = figures;
  t.deepEqual(bulk.ratios, {}); // kitchensink's own figure is below resolution
  t.deepEqual(print.ratios, { quiet: 2 });
  const lines = markdownTable(figures, systems).split('\n');
  t.is(lines[2], '| bulk | CPU s | <0.02 | 0.190 | 0.500 |');
  t.is(lines[3], '| print | CPU s | 0.300 | <0.02 | 0.600 (2.00×) |');
});
