import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A server a benchmark runs in a process of its own (a baseline to compare kitchensink with). */
export interface ChildServer {
  /** what the server printed after `listening ` (a port, or a url) */
  listening: string;
  pid: number;
  /** SIGTERM, then waits for the exit */
  stop(): Promise<void>;
}

/**
 * Runs `node <script> ...args` and waits for its line `listening <where>` on stdout; the
 * server's stderr goes to ours.
 */
export async function startChildServer(script: string, args: string[] = []): Promise<ChildServer> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const listening = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('listening ')) resolve(line.slice('listening '.length));
      });
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
    });
    return { listening, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
