export interface ClaimedJob {
  id: string;
  fn: string;
  kind: 'shipped' | 'registered';
  args: Uint8Array;
  opts: Uint8Array | null;
  attempts: number;
  queue: string;
  /** the node whose client waits for the outcome */
  head: string;
}

/**
 * Reads claimJobs.lua's packed fields, eight per job. Fields that repeat from one job to the
 * next (function, options, head node) are decoded once per run: a claim of hundreds of calls
 * of one function makes a few strings, not hundreds. Arguments and options stay views of the
 * reply.
 */
export function readClaimed(packed: Buffer, queues: readonly string[]): ClaimedJob[] {
  const jobs: ClaimedJob[] = [];
  let pos = 0;
  let start = 0;
  let end = 0;
  const next = () => {
    const length = packed.readUInt32BE(pos);
    start = pos + 4;
    end = start + length;
    pos = end;
  };
  let fnAt = [0, 0];
  let headAt = [0, 0];
  let optsAt = [0, 0];
  let fn = '';
  let head = '';
  let opts: Buffer | null = null;
  const same = (at: number[]) => end - start === at[1] - at[0] && packed.compare(packed, at[0], at[1], start, end) === 0;
  while (pos < packed.length) {
    next();
    const id = packed.toString('latin1', start, end);
    next();
    if (!same(fnAt)) {
      fn = packed.toString('utf8', start, end);
      fnAt = [start, end];
    }
    next();
    const kind = end - start === 1 && packed[start] === 0x72 ? 'registered' : 'shipped';
    next();
    const args = packed.subarray(start, end);
    next();
    if (!same(optsAt)) {
      opts = end > start ? packed.subarray(start, end) : null;
      optsAt = [start, end];
    }
    next();
    const attempts = Number(packed.toString('latin1', start, end));
    next();
    const queue = queues[Number(packed.toString('latin1', start, end)) - 1];
    next();
    if (!same(headAt)) {
      head = packed.toString('utf8', start, end);
      headAt = [start, end];
    }
    jobs.push({ id, fn, kind, args, opts, attempts, queue, head });
  }
  return jobs;
}
