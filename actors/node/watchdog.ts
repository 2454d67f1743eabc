import { spawn } from 'node:child_process';

/**
 * The embedded servers must not outlive their node, even when it dies without running any
 * handler (SIGKILL, a task's `process.kill(process.pid, 'SIGKILL')`, the OOM killer). A tiny
 * shell per server reads a pipe from this process: the kernel closes the pipe's write end when
 * this process dies however it dies, `read` returns, and the shell stops the server (SIGTERM,
 * then SIGKILL after 5 s). Returns a function that ends the watchdog (after a clean stop).
 */
export function watchParent(pid: number, name: string): () => void {
  // `name`: the server's /proc/PID/comm, checked first so that a reused pid is left alone.
  const script = 'read _; [ "$(cat /proc/$1/comm 2>/dev/null)" = "$2" ] || exit 0; kill -TERM "$1" 2>/dev/null || exit 0; for _ in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; kill -0 "$1" 2>/dev/null || exit 0; done; kill -KILL "$1" 2>/dev/null';
  const shell = spawn('/bin/sh', ['-c', script, 'ks-watchdog', String(pid), name], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  shell.on('error', () => undefined);
  shell.stdin!.on('error', () => undefined);
  // Neither the pipe nor the shell keeps this process alive.
  shell.unref();
  (shell.stdin as unknown as { unref?: () => void }).unref?.();
  return () => {
    if (shell.exitCode === null && shell.signalCode === null) shell.kill('SIGKILL');
  };
}
