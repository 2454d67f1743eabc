import { rmSync } from 'node:fs';

/**
 * Every process and temp dir the chaos script started, so that it always cleans up: after a
 * scenario that failed or timed out, and on Ctrl-C or an uncaught error (synchronously, by
 * pid, never by name).
 */
interface Owned {
  name: string;
  /** the current pid (a restarted server gets a new one), or undefined once it is gone */
  pid(): number | undefined;
}

const processes = new Set<Owned>();
const dirs = new Set<string>();

export function ownProcess(name: string, pid: () => number | undefined): () => void {
  const owned = { name, pid };
  processes.add(owned);
  return () => void processes.delete(owned);
}

export function ownDir(dir: string): () => void {
  dirs.add(dir);
  return () => void dirs.delete(dir);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGCONT + SIGKILL to every process still owned, and removes the dirs. Synchronous (usable in `exit`). */
export function killEverythingOwned(): string[] {
  const killed: string[] = [];
  for (const owned of processes) {
    const pid = owned.pid();
    if (pid === undefined || !alive(pid)) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
      killed.push(`${owned.name} (${pid})`);
    } catch {
      // already gone
    }
  }
  processes.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
  return killed;
}

/** Ctrl-C, SIGTERM, an uncaught error or an exit with processes left: kill them by pid. */
export function installEmergencyCleanup(): void {
  const bail = (why: string, code: number) => {
    const killed = killEverythingOwned();
    console.error(`\nchaos: ${why}; killed ${killed.length ? killed.join(', ') : 'nothing (all already stopped)'}`);
    process.exit(code);
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  process.once('uncaughtException', (error) => {
    console.error(error);
    bail('uncaught error', 1);
  });
  process.once('unhandledRejection', (error) => {
    console.error(error);
    bail('unhandled rejection', 1);
  });
  process.once('exit', () => void killEverythingOwned());
}
