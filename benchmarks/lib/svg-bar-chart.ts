/**
 * A small SVG writer for grouped horizontal bar charts (benchmark reports). Hand-written: the npm
 * options either need a DOM (chartist wrappers over jsdom, highcharts-jsdom), are alpha
 * (isomorphic-svg-charts), or bring a large tree for one chart (vega: ~27 direct dependencies).
 *
 * Each group (a workload) has one bar per series (a system); a bar's length is its value on one
 * linear scale shared by the whole chart, its label is free text (e.g. "11,234 tasks/s · 1.00×").
 * A bar whose value is null is drawn as a label only (e.g. "n/a: no output streaming").
 */
export interface ChartSeries {
  name: string;
  color: string;
}

export interface ChartBar {
  value: number | null;
  label: string;
}

export interface ChartGroup {
  label: string;
  /** one per series, in series order */
  bars: ChartBar[];
}

export interface BarChartSpec {
  title: string;
  subtitle?: string;
  /** what the bar length means, printed under the chart (lines split at \n) */
  axisLabel: string;
  series: ChartSeries[];
  groups: ChartGroup[];
  /** a dashed vertical line at this value across each group's bars (e.g. 1 = the reference system) */
  referenceValue?: number;
  width?: number;
}

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
const BAR_HEIGHT = 16;
const BAR_GAP = 4;
const GROUP_GAP = 18;
const GROUP_TITLE = 20;
const NAME_COLUMN = 120;
const LABEL_ROOM = 240;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function svgBarChart(spec: BarChartSpec): string {
  for (const group of spec.groups) {
    if (group.bars.length !== spec.series.length) throw new Error(`group "${group.label}" has ${group.bars.length} bars for ${spec.series.length} series`);
  }
  const width = spec.width ?? 820;
  const left = 12;
  const plotLeft = left + NAME_COLUMN;
  const plotWidth = width - plotLeft - LABEL_ROOM;
  const values = spec.groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(spec.referenceValue ?? 0, ...values, Number.EPSILON);
  const x = (v: number) => plotLeft + (Math.max(0, v) / max) * plotWidth;

  const header = spec.subtitle ? 58 : 40;
  const groupHeight = GROUP_TITLE + spec.series.length * (BAR_HEIGHT + BAR_GAP);
  const plotHeight = spec.groups.length * (groupHeight + GROUP_GAP);
  const footer = spec.axisLabel.split('\n');
  const height = header + plotHeight + 18 + footer.length * 16;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${left}" y="44" fill="#555555">${escapeXml(spec.subtitle)}</text>`);

  let y = header;
  for (const group of spec.groups) {
    out.push(`<text x="${left}" y="${y + 13}" font-weight="bold">${escapeXml(group.label)}</text>`);
    y += GROUP_TITLE;
    const barsTop = y - 2;
    const barsBottom = y + spec.series.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + 2;
    out.push(`<line x1="${plotLeft}" y1="${barsTop}" x2="${plotLeft}" y2="${barsBottom}" stroke="#999999"/>`);
    group.bars.forEach((bar, i) => {
      const series = spec.series[i];
      const middle = y + BAR_HEIGHT / 2 + 4;
      out.push(`<text x="${left + 8}" y="${middle}">${escapeXml(series.name)}</text>`);
      let labelX = plotLeft + 4;
      if (bar.value !== null && Number.isFinite(bar.value)) {
        const end = x(bar.value);
        const barWidth = Math.max(1, end - plotLeft);
        out.push(`<rect class="bar" x="${plotLeft}" y="${y}" width="${round(barWidth)}" height="${BAR_HEIGHT}" fill="${escapeXml(series.color)}"/>`);
        labelX = plotLeft + barWidth + 4;
      }
      out.push(`<text x="${round(labelX)}" y="${middle}" fill="#222222">${escapeXml(bar.label)}</text>`);
      y += BAR_HEIGHT + BAR_GAP;
    });
    if (spec.referenceValue !== undefined) {
      const rx = round(x(spec.referenceValue));
      out.push(`<line x1="${rx}" y1="${barsTop}" x2="${rx}" y2="${barsBottom}" stroke="#333333" stroke-dasharray="4 3"/>`);
    }
    y += GROUP_GAP;
  }

  footer.forEach((line, i) => {
    out.push(`<text x="${left}" y="${height - 12 - (footer.length - 1 - i) * 16}" fill="#555555">${escapeXml(line)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
