/**
 * cli-table3 `colWidths` (padding included) that keep a bordered table within `limit`
 * columns: the `shrinkable` columns give up width (their cells wrap) until it fits.
 */
export function fitColumns(head: string[], rows: string[][], limit: number, shrinkable: number[]): number[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.max(...String(r[i]).split('\n').map((l) => l.length)))) + 2);
  const total = () => widths.reduce((a, b) => a + b, 0) + head.length + 1;
  while (total() > limit) {
    const widest = shrinkable.filter((i) => widths[i] > 8).sort((a, b) => widths[b] - widths[a])[0];
    if (widest === undefined) break;
    widths[widest]--;
  }
  return widths;
}
