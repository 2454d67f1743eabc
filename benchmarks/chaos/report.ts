import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import Table from 'cli-table3';
import type { Features } from './features.js';
import type { ScenarioResult } from './run-scenario.js';
import { formatErrors } from './tally.js';

/** One line of the printed table (and of the JSON's `rows`). */
export interface ChaosRow {
  scenario: string;
  status: string;
  submitted: number | string;
  delivered: number | string;
  executed: number | string;
  lost: number | string;
  'dup exec': number | string;
  'dup deliv': number | string;
  'refused (ran)': string;
  stuck: number | string;
  errors: string;
  'recover s': string;
  verdict: string;
}

export function toRow(r: ScenarioResult): ChaosRow {
  const t = r.tally;
  const dash = '-';
  return {
    scenario: r.scenario,
    status: r.status,
    submitted: t?.submitted ?? dash,
    delivered: t?.delivered ?? dash,
    executed: t?.executed ?? dash,
    lost: t?.lost ?? dash,
    'dup exec': t?.duplicatedExecutions ?? dash,
    'dup deliv': t?.duplicatedDeliveries ?? dash,
    'refused (ran)': t ? `${t.refused} (${t.refusedRan})` : dash,
    stuck: r.stuck ?? dash,
    errors: t ? formatErrors(t.errors) : dash,
    'recover s': r.recoverMs === undefined ? dash : (r.recoverMs / 1000).toFixed(1),
    verdict: r.status === 'n/a' ? 'n/a' : r.status === 'error' ? 'error' : r.violations.length ? 'FAIL' : 'holds',
  };
}

export function printReport(results: ScenarioResult[]): void {
  const rows = results.map(toRow);
  const head = Object.keys(rows[0] ?? {}) as (keyof ChaosRow)[];
  const table = new Table({ head, wordWrap: true, style: { head: [], border: [] }, colWidths: head.map((h) => (h === 'errors' ? 30 : null)) as number[] });
  for (const row of rows) table.push(head.map((h) => String(row[h])));
  console.log(table.toString());
  for (const r of results) {
    const lines = [
      `${r.scenario}: ${r.title}. Expect: ${r.expect}.`,
      ...(r.status === 'n/a' && r.reason ? [`  ${r.reason}`] : []),
      ...(r.recoverWhat ? [`  recover: ${r.recoverWhat}`] : []),
      ...(r.tally?.duplicatedExecutions ? [`  jobs that ran to the end more than once: ${r.tally.duplicatedExecutions} (at-least-once execution allows it after a node is lost)`] : []),
      ...(r.tally?.timedOut ? [`  ${r.tally.timedOut} calls in execute()s that timed out at the client; ${r.tally.timedOutRan} of them ran (a timeout leaves the outcome open: a resend with the same batch id settles it)`] : []),
      ...(r.tally?.lost ? [`  of the ${r.tally.lost} lost: ${r.tally.unanswered} never answered, ${r.tally.lostButRan} ran all the same`] : []),
      ...r.notes.map((n) => `  ${n}`),
      ...r.violations.map((v) => `  ✗ ${v}`),
      ...(r.status === 'error' && r.reason ? [`  error: ${r.reason.split('\n').slice(0, 3).join(' | ')}`] : []),
    ];
    console.log(lines.join('\n'));
  }
}

/** benchmarks/results/chaos.json: the rows, and every scenario's full result. */
export function writeReport(results: ScenarioResult[], meta: { jobs: number; features: Features; commit: string }): string {
  const dir = new URL('../../../benchmarks/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const doc = {
    benchmark: 'chaos',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    ...meta,
    rows: results.map(toRow),
    scenarios: results,
  };
  const file = new URL('chaos.json', dir);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file.pathname;
}
