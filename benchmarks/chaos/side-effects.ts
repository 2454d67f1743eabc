import { existsSync, readFileSync } from 'node:fs';

/**
 * The task every scenario runs. Its side effect is the count: it appends a start line and,
 * once done, an end line with its token (unique per call), node and time to a ledger file in
 * the cluster's shared temp dir (O_APPEND writes of one short line do not interleave). The
 * ledger says what ran, whatever the cluster or the client reports.
 * `padding` only makes the job bigger in Redis (scenario 3).
 */
export const chaosTask = async (ledger: string, token: string, ms: number, padding?: string) => {
  const { appendFileSync } = await import('node:fs');
  const { taskContext } = await import('kitchensink');
  const node = taskContext().node.name;
  appendFileSync(ledger, `S ${token} ${node} ${Date.now()}\n`);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  appendFileSync(ledger, `E ${token} ${node} ${Date.now()}\n`);
  return token;
};

export interface LedgerEntry {
  kind: 'start' | 'end';
  token: string;
  node: string;
  at: number;
}

export function parseLedger(text: string): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    const [kind, token, node, at] = line.split(' ');
    if ((kind !== 'S' && kind !== 'E') || !token || !node || !at) continue;
    entries.push({ kind: kind === 'S' ? 'start' : 'end', token, node, at: Number(at) });
  }
  return entries;
}

export function readLedger(path: string): LedgerEntry[] {
  return existsSync(path) ? parseLedger(readFileSync(path, 'utf8')) : [];
}

/** Tokens started on `node` at or before `at` that had not ended there by then: its running jobs. */
export function runningOn(entries: LedgerEntry[], node: string, at: number): string[] {
  const started = new Set<string>();
  for (const e of entries) {
    if (e.node !== node || e.at > at) continue;
    if (e.kind === 'start') started.add(e.token);
    else started.delete(e.token);
  }
  return [...started];
}
