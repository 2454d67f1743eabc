import { readFileSync } from 'node:fs';

/** user + system CPU seconds of a process so far, with all its threads (Linux /proc; 100 ticks a second). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0; // the process is gone
  }
}

/** CPU seconds the whole machine spent busy so far (all cores; Linux /proc/stat, 100 ticks a second). */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / 100;
}

/** CPU seconds of this process so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Waits (at most `maxMs`) until the rest of the machine keeps less than `cores` busy over a
 * 500 ms window, so that every run starts on an equally quiet machine. Returns the ms waited.
 */
export async function waitForQuiet(ownPids: number[], cores = 0.2, maxMs = 3000): Promise<number> {
  const started = performance.now();
  const ours = () => ownPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) + ownCpuSeconds();
  while (performance.now() - started < maxMs) {
    const [busy0, ours0, t0] = [machineBusySeconds(), ours(), performance.now()];
    await new Promise((r) => setTimeout(r, 500));
    const rest = (machineBusySeconds() - busy0 - (ours() - ours0)) / ((performance.now() - t0) / 1000);
    if (rest < cores) break;
  }
  return Math.round(performance.now() - started);
}
