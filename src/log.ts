import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs (pino) on stderr, so stdout stays free for command output. */
export function createLogger(name: string, level = process.env.KS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { node: name } }, pino.destination({ fd: 2, sync: false }));
}
