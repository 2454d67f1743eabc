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

/** `oneCall(i)` `warmup` times unmeasured (with negative i), then n times measured; p50/p99 in ms. */
export async function latenciesMs(oneCall: (i: number) => Promise<unknown>, n: number, warmup = 20): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < warmup; i++) await oneCall(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await oneCall(i);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}
