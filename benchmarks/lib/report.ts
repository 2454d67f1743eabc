import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface Row {
  [column: string]: string | number;
}

/** Prints a table and writes `benchmarks/results/<name>.json` with machine and date. */
export function report(name: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  console.table(rows);
  const dir = new URL('../../../benchmarks/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const doc = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    rows,
    ...extra,
  };
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(doc, null, 2));
  console.log(`wrote benchmarks/results/${name}.json`);
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
