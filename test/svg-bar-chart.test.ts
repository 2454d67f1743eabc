import test from 'ava';
import { svgBarChart, type BarChartSpec } from '../benchmarks/lib/svg-bar-chart.js';

/** Checks that every element opened is closed in order; returns the element names seen. */
function elementsOf(svg: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      seen.push(name);
      if (!selfClosing) stack.push(name);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
  return seen;
}

const spec: BarChartSpec = {
  title: 'Systems <compared> & ranked',
  subtitle: '2 cores',
  axisLabel: 'relative speed',
  series: [
    { name: 'kitchensink', color: '#d9480f' },
    { name: 'peer "A"', color: '#1971c2' },
  ],
  groups: [
    { label: 'throughput', bars: [{ value: 1, label: '11,000 tasks/s' }, { value: 0.5, label: '5,500 tasks/s' }] },
    { label: 'output', bars: [{ value: 1, label: '70 ms' }, { value: null, label: 'n/a: no streaming' }] },
  ],
  referenceValue: 1,
};

test('a chart is well-formed SVG with one bar per measured value and a label for every bar', (t) => {
  const svg = svgBarChart(spec);
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const elements = elementsOf(svg);
  t.is(elements[0], 'svg');
  t.is(svg.match(/<rect class="bar"/g)?.length, 3);
  for (const label of ['11,000 tasks/s', '5,500 tasks/s', '70 ms', 'n/a: no streaming']) t.true(svg.includes(`>${label}</text>`), label);
  t.false(/NaN|undefined|Infinity/.test(svg));
});

test('bar lengths share one scale: half the value, half the width', (t) => {
  const widths = [...svgBarChart(spec).matchAll(/<rect class="bar"[^>]* width="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.is(widths.length, 3);
  t.is(widths[0], widths[2]);
  t.true(Math.abs(widths[1] - widths[0] / 2) <= 0.2, `${widths[1]} vs ${widths[0]}`);
});

test('text is escaped', (t) => {
  const svg = svgBarChart(spec);
  t.true(svg.includes('Systems &lt;compared&gt; &amp; ranked'));
  t.true(svg.includes('peer &quot;A&quot;'));
  t.notThrows(() => elementsOf(svg));
});

test('a group with a bar missing for a series is refused', (t) => {
  const broken = { ...spec, groups: [{ label: 'x', bars: [{ value: 1, label: 'only one' }] }] };
  t.throws(() => svgBarChart(broken), { message: /1 bars for 2 series/ });
});
