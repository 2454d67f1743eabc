import type { BarChartSpec } from '../lib/svg-bar-chart.js';
import { formatFigure, formatRatio, ksAdvantage, median, type Better, type RunResult, type WorkloadSpec } from './figures.js';

/** Pure: from the runs collected to the figures, the table and the chart. */
export const REFERENCE = 'kitchensink';

export interface SystemSummary {
  id: string;
  name: string;
  color: string;
  version?: string;
  /** why it did not run */
  skipped?: string;
}

/** Per workload, per system: the answers of the measured repetitions, or why there are none. */
export interface Collected {
  runs: Record<string, Record<string, RunResult[]>>;
  errors: Record<string, Record<string, string>>;
}

export type Cell = { median: number; samples: number[] } | { na: string } | { error: string };

export interface FigureSummary {
  workload: string;
  key: string;
  label: string;
  unit: string;
  better: Better;
  /** values below it are shown as `<resolution`, with no ratio */
  resolution?: number;
  headToHead: boolean;
  kitchensinkOnly: boolean;
  cells: Record<string, Cell>;
  /** kitchensink's advantage over each peer (>1: kitchensink better) */
  ratios: Record<string, number>;
}

export function summarize(workloads: WorkloadSpec[], systems: SystemSummary[], collected: Collected): FigureSummary[] {
  const ran = systems.filter((s) => !s.skipped);
  const summaries: FigureSummary[] = [];
  for (const workload of workloads) {
    workload.figures.forEach((figure, index) => {
      const cells: Record<string, Cell> = {};
      for (const system of ran) {
        if (workload.only && !workload.only.includes(system.id)) continue;
        const error = collected.errors[workload.id]?.[system.id];
        const runs = collected.runs[workload.id]?.[system.id] ?? [];
        const na = runs.find((r) => r.na !== undefined)?.na;
        if (error) cells[system.id] = { error };
        else if (na !== undefined) cells[system.id] = { na };
        else if (runs.length === 0) cells[system.id] = { error: 'no runs' };
        else {
          const samples = runs.map((r) => figure.from(r, workload.params));
          cells[system.id] = { median: median(samples), samples };
        }
      }
      const ratios: Record<string, number> = {};
      const ks = cells[REFERENCE];
      const resolved = (cell: Cell | undefined): cell is { median: number; samples: number[] } =>
        cell !== undefined && 'median' in cell && !belowResolution(cell.median, figure.resolution);
      if (resolved(ks)) {
        for (const [id, cell] of Object.entries(cells)) {
          if (id !== REFERENCE && resolved(cell)) ratios[id] = ksAdvantage(ks.median, cell.median, figure.better);
        }
      }
      summaries.push({
        workload: workload.id,
        key: figure.key,
        label: figure.label,
        unit: figure.unit,
        better: figure.better,
        resolution: figure.resolution,
        headToHead: index === 0 && !workload.only,
        kitchensinkOnly: workload.only !== undefined,
        cells,
        ratios,
      });
    });
  }
  return summaries;
}

function belowResolution(value: number, resolution: number | undefined): boolean {
  return resolution !== undefined && value < resolution;
}

export function cellText(cell: Cell | undefined, ratio: number | undefined, resolution?: number): string {
  if (!cell) return '—';
  if ('na' in cell) return 'n/a';
  if ('error' in cell) return 'error';
  if (belowResolution(cell.median, resolution)) return `<${resolution}`;
  return ratio === undefined ? formatFigure(cell.median) : `${formatFigure(cell.median)} (${formatRatio(ratio)})`;
}

export const RATIO_NOTE =
  "In brackets: kitchensink's ratio to that system, >1 means kitchensink is better (throughput: kitchensink / peer; times: peer / kitchensink).";

/** Header and rows of the table (figure, unit, then one column per system that ran). */
export function tableRows(summaries: FigureSummary[], systems: SystemSummary[]): { head: string[]; rows: string[][] } {
  const ran = systems.filter((s) => !s.skipped);
  const head = ['workload', 'unit', ...ran.map((s) => s.name)];
  const rows = summaries.map((f) => [f.label, f.unit, ...ran.map((s) => cellText(f.cells[s.id], f.ratios[s.id], f.resolution))]);
  return { head, rows };
}

export function markdownTable(summaries: FigureSummary[], systems: SystemSummary[]): string {
  const { head, rows } = tableRows(summaries, systems);
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/** One group per workload (its head-to-head figure); bar = speed relative to kitchensink. */
export function chartSpec(summaries: FigureSummary[], systems: SystemSummary[], subtitle: string): BarChartSpec {
  const ran = systems.filter((s) => !s.skipped);
  const groups = summaries
    .filter((f) => f.headToHead)
    .map((f) => ({
      label: `${f.label} (${f.unit}, ${f.better} is better)`,
      bars: ran.map((s) => {
        const cell = f.cells[s.id];
        if (!cell) return { value: null, label: '—' };
        if ('na' in cell) return { value: null, label: `n/a: ${cell.na}` };
        if ('error' in cell) return { value: null, label: 'error' };
        const ratio = f.ratios[s.id];
        if (s.id === REFERENCE) return { value: 1, label: `${formatFigure(cell.median)} ${f.unit}` };
        if (ratio === undefined) return { value: null, label: `${formatFigure(cell.median)} ${f.unit}` };
        return { value: 1 / ratio, label: `${formatFigure(cell.median)} ${f.unit} · kitchensink ${formatRatio(ratio)}` };
      }),
    }));
  return {
    title: 'kitchensink and its peers, same workloads, one machine, one run',
    subtitle,
    axisLabel:
      'Bar length: speed relative to kitchensink (dashed line: kitchensink = 1; longer is faster).\n' +
      "Labels: the median figure, then kitchensink's ratio to it (>1: kitchensink is better).",
    series: ran.map((s) => ({ name: s.name, color: s.color })),
    groups,
    referenceValue: 1,
  };
}
