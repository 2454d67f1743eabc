/**
 * The workloads, the figures each yields, and the arithmetic of the report (medians, ratios).
 * Pure: no processes, no I/O, so test/bench-report.test.ts can check it.
 */
export type Better = 'higher' | 'lower';

/**
 * What a driver answers for one run (see protocol.ts), plus `cpu`: the CPU seconds (user +
 * system) that every process of the system (client, servers, workers) used meanwhile, added by
 * the runner from /proc. CPU time barely depends on what else the machine is running.
 */
export type RunResult = Partial<Record<'seconds' | 'ms' | 'p50' | 'p99' | 'cpu', number>> & { na?: string };

export interface FigureSpec {
  key: string;
  label: string;
  unit: string;
  better: Better;
  /** below this a value is measurement noise: shown as `<resolution`, with no ratio */
  resolution?: number;
  /** the figure from one run's answer */
  from(result: RunResult, params: Record<string, number>): number;
}

export interface WorkloadSpec {
  id: string;
  label: string;
  params: Record<string, number>;
  warmup: Record<string, number>;
  figures: FigureSpec[];
  /** only these systems run it (an extra row), default all */
  only?: string[];
}

export const ONE_MIB = 1 << 20;

/**
 * Items per chunk in (a'), for every system with a documented chunking knob on its map call:
 * 20 chunks of 20,000 no-ops, so each worker gets ten and neither waits on the other, while
 * the per-chunk overhead is paid 20 times instead of 20,000.
 */
export const CHUNK_SIZE = 1000;

/**
 * In the order they run. (c) runs last on purpose: moving 200 MiB leaves some systems in a
 * different state (kitchensink's worker threads keep a 4 MiB CBOR buffer afterwards, see the
 * README), and each figure should measure its own workload, not the one before it.
 */
export const WORKLOADS: WorkloadSpec[] = [
  {
    id: 'noop_bulk',
    label: '(a) 20,000 no-op tasks in one bulk',
    params: { n: 20_000 },
    warmup: { n: 2000 },
    figures: [{ key: 'rate', label: '(a) 20,000 no-op tasks, one bulk', unit: 'tasks/s', better: 'higher', from: (r, p) => p.n / r.seconds! }],
  },
  {
    id: 'noop_chunked',
    label: "(a') 20,000 no-op tasks, chunked map",
    params: { n: 20_000, chunk: CHUNK_SIZE },
    // the whole workload once: on a fresh kitchensink node the first chunked maps of 20,000
    // took 0.9 s, then 0.1 s, then settled at about 0.04 s (a probe on the busy machine)
    warmup: { n: 20_000, chunk: CHUNK_SIZE },
    figures: [
      { key: 'rate', label: `(a') 20,000 no-op tasks, chunked map (${CHUNK_SIZE.toLocaleString('en-US')} per chunk)`, unit: 'tasks/s', better: 'higher', from: (r, p) => p.n / r.seconds! },
    ],
  },
  {
    id: 'roundtrip',
    label: '(b) 200 sequential single round trips',
    params: { n: 200 },
    warmup: { n: 20 },
    figures: [
      { key: 'p50', label: '(b) 200 sequential round trips, p50', unit: 'ms', better: 'lower', from: (r) => r.p50! },
      { key: 'p99', label: '(b) 200 sequential round trips, p99', unit: 'ms', better: 'lower', from: (r) => r.p99! },
    ],
  },
  {
    id: 'print_lines',
    label: '(d) a task printing 1,000 lines',
    params: { n: 1000 },
    warmup: { n: 100 },
    figures: [{ key: 'ms', label: '(d) a task printing 1,000 lines, last line seen', unit: 'ms', better: 'lower', from: (r) => r.ms! }],
  },
  {
    id: 'roundtrip_direct',
    label: "(b') 200 sequential callWith({ async: false })",
    params: { n: 200 },
    warmup: { n: 20 },
    only: ['kitchensink'],
    figures: [{ key: 'p50', label: "(b') callWith({ async: false }), p50 (no queue; kitchensink only)", unit: 'ms', better: 'lower', from: (r) => r.p50! }],
  },
  {
    id: 'mb_bulk',
    label: '(c) 200 tasks each returning 1 MiB',
    params: { n: 200, size: ONE_MIB },
    warmup: { n: 20, size: ONE_MIB },
    figures: [{ key: 'seconds', label: '(c) 200 tasks returning 1 MiB each', unit: 's', better: 'lower', from: (r) => r.seconds! }],
  },
];

/**
 * /proc counts CPU time in ticks of 10 ms, and a workload's CPU is the difference of two
 * readings: below two ticks a figure says only "almost nothing".
 */
export const CPU_RESOLUTION_S = 0.02;

/** The same workloads with one figure each: the CPU their whole run cost each system. */
export function cpuWorkloads(workloads: WorkloadSpec[]): WorkloadSpec[] {
  return workloads.filter((w) => !w.only).map((w) => ({
    ...w,
    figures: [{ key: 'cpu', label: w.label, unit: 'CPU s', better: 'lower' as const, resolution: CPU_RESOLUTION_S, from: (r: RunResult) => r.cpu! }],
  }));
}

export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** How many times better kitchensink is than a peer: >1 means kitchensink is better, whatever the unit. */
export function ksAdvantage(ks: number, peer: number, better: Better): number {
  return better === 'higher' ? ks / peer : peer / ks;
}

/** `items` rotated left by `by` places: repetition r of a workload starts with system r. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = ((by % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Three significant digits, at most three decimals, thousands separated: 11,234 · 1.04 · 0.215. */
export function formatFigure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function formatRatio(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}×`;
}
