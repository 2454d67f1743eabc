/**
 * The chart of `npm run bench:memory`: benchmarks/results/memory.svg, drawn from memory.json
 * (so it can be redrawn from a past run's figures without running the benchmark again).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { svgBarChart, type BarChartSpec, type ChartBar } from './lib/svg-bar-chart.js';

/** One run of the workload (memory.json `runs[]`). */
export interface MemoryRunResult {
  mode: string;
  memoryCache: string;
  firstReadMs: number[];
  laterReadMs: { median: number; p90: number; mean: number; count: number };
  /** the rest of each task: summing the 6.25 M numbers */
  sumMs: { median: number; mean: number };
  workloadMs: number;
  /** the node process's RSS in MiB (VmRSS kB / 1024), while objectMb is decimal MB */
  rssBeforeMb: number;
  rssAfterMb: number;
  rssGrowthMb: number;
  memoryTierUsedMb: number | null;
}

/** memory.json */
export interface MemoryResults {
  date: string;
  loadavg: number[];
  cores: number;
  /** memoryRssGrowthVsObject: the run of 2026-12-02T06:15Z divided MiB of RSS by MB of object (1.32; 1.38 in like units) */
  summary: { objectMb: number; tasks: number; threads: number; laterReadSpeedup: number; workloadSpeedup: number; memoryRssGrowthVsObject: number };
  /** disk (`--memory-cache 0`), then memory */
  runs: MemoryRunResult[];
}

const RESULTS = new URL('../../benchmarks/results/', import.meta.url);

/** RSS growth in bytes over the object's bytes. */
export const rssGrowthVsObject = (run: MemoryRunResult, objectMb: number) => (run.rssGrowthMb * 2 ** 20) / (objectMb * 1e6);

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : n >= 10 ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ms`);

/** Each figure of the memory run as a bar relative to the disk run's (disk = 1: shorter is better). */
export function memoryChartSpec(results: MemoryResults): BarChartSpec {
  const disk = results.runs.find((r) => r.mode === 'disk');
  const memory = results.runs.find((r) => r.mode === 'memory');
  if (!disk || !memory) throw new Error('memory.json needs a disk run and a memory run');
  const { objectMb, tasks, threads } = results.summary;
  const pair = (label: string, of: (r: MemoryRunResult) => number, show: (r: MemoryRunResult, n: number) => string, less = 'faster') => {
    const base = of(disk);
    const bar = (r: MemoryRunResult): ChartBar => {
      const n = of(r);
      const relative = n / base;
      const ratio = r === disk ? '' : relative < 1 ? ` · ${(1 / relative).toFixed(relative < 0.1 ? 0 : 1)}× ${less}` : ` · ${relative.toFixed(2)}×`;
      return { value: relative, label: `${show(r, n)}${ratio}` };
    };
    return { label, bars: [bar(disk), bar(memory)] };
  };
  return {
    title: `bench:memory: ${tasks} tasks read one ${objectMb} MB object on one node (${threads} threads)`,
    subtitle: `${results.date.slice(0, 10)}, ${results.cores} cores shared with other work (load average ${results.loadavg[0].toFixed(1)}): read the ratios`,
    axisLabel:
      'Bar length: the figure relative to reading from disk (dashed line: --memory-cache 0 = 1; shorter is better).\n' +
      'Disk is the best case of a disk: the file is in the page cache, each read still decodes it.',
    series: [
      { name: 'disk', color: '#9e9e9e' },
      { name: 'memory tier', color: '#1f77b4' },
    ],
    groups: [
      pair('first read on each thread (mean)', (r) => mean(r.firstReadMs), (_, n) => ms(n)),
      pair('later reads (median)', (r) => r.laterReadMs.median, (_, n) => ms(n)),
      pair('the sum, per task (median)', (r) => r.sumMs.median, (_, n) => ms(n)),
      pair('whole workload', (r) => r.workloadMs, (_, n) => ms(n)),
      pair('node RSS growth', (r) => r.rssGrowthMb, (r, n) => `${Math.round(n)} MiB (${rssGrowthVsObject(r, objectMb).toFixed(2)}× the object)`, 'less'),
    ],
    referenceValue: 1,
  };
}

/** Writes benchmarks/results/memory.svg from benchmarks/results/memory.json. */
export function renderMemoryChart(): void {
  const results = JSON.parse(readFileSync(new URL('memory.json', RESULTS), 'utf8')) as MemoryResults;
  writeFileSync(new URL('memory.svg', RESULTS), svgBarChart(memoryChartSpec(results)));
}
