import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

let processLog: Logger | undefined;

/**
 * Structured logs (pino) on stderr, so stdout stays free for command output: readable lines
 * (pino-pretty) when stderr is a terminal, JSON lines otherwise. `KS_LOG_LEVEL` sets the level
 * (default `info`; `debug` adds a line per job claimed, finished and re-queued) and
 * `KS_LOG_FORMAT` (`pretty` or `json`) overrides the choice of format.
 */
export function createLogger(name: string, level = process.env.KS_LOG_LEVEL ?? 'info'): Logger {
  const log = pino({ name, level, base: { node: name } }, destination());
  processLog ??= log;
  return log;
}

/**
 * The process's logger, for code that has no node logger at hand (the actor base, the bus):
 * the first one `createLogger` made (a node's), else one of its own.
 */
export function runtimeLog(): Logger {
  return processLog ??= createLogger('kitchensink');
}

/** Replaces the process's logger (an embedding application's own, or a test's). */
export function setRuntimeLog(log: Logger): void {
  processLog = log;
}

function destination(): DestinationStream {
  const format = process.env.KS_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format !== 'pretty') return pino.destination({ fd: 2, sync: false });
  // Loaded only here: a client process importing kitchensink never needs it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    destination: 2,
    colorize: process.stderr.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,node',
  });
}
