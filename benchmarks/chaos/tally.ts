import type { LedgerEntry } from './side-effects.js';

/** One `execute()`: the tokens of its calls, and the job ids it returned or the error it threw. */
export interface BatchRecord {
  tokens: string[];
  ids?: string[];
  /** the error code execute() failed with (KsError code, or the error's name) */
  submitError?: string;
  /** when execute() returned or threw (ms since the epoch) */
  settledAt?: number;
}

/** One outcome received by the client for a job id. */
export interface DeliveryRecord {
  id: string;
  at: number;
  /** undefined: a result; otherwise the remote error's name (JobLost, NodeLost, ...) */
  failure?: string;
}

export interface Tally {
  /** job ids returned by execute() */
  submitted: number;
  /** submitted jobs whose result reached the client */
  delivered: number;
  /** submitted jobs that ran to the end at least once (the ledger) */
  executed: number;
  /** submitted jobs whose result never reached the client (reported failed, or never answered) */
  lost: number;
  /** of the lost: never answered at all */
  unanswered: number;
  /** of the lost: ran all the same */
  lostButRan: number;
  /** jobs (any) that ran to the end more than once */
  duplicatedExecutions: number;
  /** submitted jobs with more than one outcome received */
  duplicatedDeliveries: number;
  /** calls in batches whose execute() failed (other than by a client timeout) */
  refused: number;
  /** of the refused calls: ones that started all the same (a failed submit must run nothing) */
  refusedRan: number;
  /**
   * calls in batches whose execute() timed out at the client: the outcome is unknown (the node
   * may have enqueued them; a resend with the same batch id would say), so not a refusal
   */
  timedOut: number;
  /** of the timed-out calls: ones that started */
  timedOutRan: number;
  /** `submit:<code>` per failed execute(), `job:<name>` per failed job, `collect:<code>` per broken result stream */
  errors: Record<string, number>;
}

/** Counts what a scenario did from its batches, the outcomes the client received, and the ledger. */
export function tally(batches: BatchRecord[], deliveries: DeliveryRecord[], ledger: LedgerEntry[], collectErrors: string[] = []): Tally {
  const ends = new Map<string, number>();
  const started = new Set<string>();
  for (const e of ledger) {
    if (e.kind === 'end') ends.set(e.token, (ends.get(e.token) ?? 0) + 1);
    else started.add(e.token);
  }
  const outcomes = new Map<string, DeliveryRecord[]>();
  for (const d of deliveries) {
    const list = outcomes.get(d.id);
    if (list) list.push(d);
    else outcomes.set(d.id, [d]);
  }
  const errors: Record<string, number> = {};
  const count = (key: string) => void (errors[key] = (errors[key] ?? 0) + 1);
  const t: Tally = {
    submitted: 0, delivered: 0, executed: 0, lost: 0, unanswered: 0, lostButRan: 0,
    duplicatedExecutions: 0, duplicatedDeliveries: 0, refused: 0, refusedRan: 0, timedOut: 0, timedOutRan: 0, errors,
  };
  for (const batch of batches) {
    if (!batch.ids) {
      count(`submit:${batch.submitError ?? 'unknown'}`);
      const ran = batch.tokens.filter((token) => started.has(token)).length;
      if (batch.submitError === 'timeout') {
        t.timedOut += batch.tokens.length;
        t.timedOutRan += ran;
      } else {
        t.refused += batch.tokens.length;
        t.refusedRan += ran;
      }
      continue;
    }
    batch.ids.forEach((id, i) => {
      const token = batch.tokens[i];
      const received = outcomes.get(id) ?? [];
      const ran = (ends.get(token) ?? 0) > 0;
      t.submitted++;
      if (ran) t.executed++;
      if (received.length > 1) t.duplicatedDeliveries++;
      for (const d of received) if (d.failure) count(`job:${d.failure}`);
      if (received.some((d) => !d.failure)) t.delivered++;
      else {
        t.lost++;
        if (received.length === 0) t.unanswered++;
        if (ran) t.lostButRan++;
      }
    });
  }
  for (const n of ends.values()) if (n > 1) t.duplicatedExecutions++;
  for (const code of collectErrors) count(`collect:${code}`);
  return t;
}

/** `JobLost×48 submit:unavailable×2`, or `-`. */
export function formatErrors(errors: Record<string, number>): string {
  const parts = Object.entries(errors).sort(([a], [b]) => a.localeCompare(b)).map(([code, n]) => `${code}×${n}`);
  return parts.length ? parts.join(' ') : '-';
}
