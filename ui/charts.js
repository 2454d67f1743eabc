import uPlot from 'uplot';
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

const COLORS = ['#2f7ed8', '#e4572e', '#17a673', '#f3a712', '#7b4fc9', '#29a3a3', '#c03f80', '#7a7a7a'];

/**
 * A uPlot line chart over time. series: [{ label, values }], times in seconds; the plot is
 * made again when the set of series changes, and only fed new data otherwise.
 */
export function TimeChart({ title, times, series, unit = '' }) {
  const box = useRef(null);
  const plot = useRef(null);
  const labels = series.map((s) => s.label).join('\u0000');
  useEffect(() => {
    const opts = {
      title,
      width: Math.max(240, (box.current.clientWidth || 480) - 8),
      height: 180,
      scales: { x: { time: true } },
      axes: [{}, { size: 70, values: (_u, ticks) => ticks.map((v) => (unit === 'B' ? formatBytes(v) : formatNumber(v) + unit)) }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false } }))],
    };
    plot.current = new uPlot(opts, [times, ...series.map((s) => s.values)], box.current);
    // The grid may give the chart another width once its neighbours appear.
    const resize = new ResizeObserver(() => {
      const width = Math.max(240, box.current.clientWidth - 8);
      if (Math.abs(width - plot.current.width) > 4) plot.current.setSize({ width, height: 180 });
    });
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      plot.current.destroy();
    };
  }, [labels]);
  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  });
  return h('div', { class: 'chart', ref: box });
}

export function formatNumber(n) {
  if (n == null) return '';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}
