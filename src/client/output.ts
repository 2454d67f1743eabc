import type { OutputStream } from '../protocol.js';

export interface OutputEvent {
  jobId: string;
  stream: OutputStream;
  text: string;
}

export type OutputHandler = (event: OutputEvent) => void;

/**
 * Where remote output goes: `raw` writes it to this process's stdout/stderr as if the code
 * ran here (the default); `prefixed` starts each line with the job id; `silent` drops it;
 * a function receives every chunk with its job id.
 */
export type OutputMode = 'raw' | 'prefixed' | 'silent' | OutputHandler;

export function outputHandler(mode: OutputMode): OutputHandler {
  if (typeof mode === 'function') return mode;
  switch (mode) {
    case 'silent':
      return () => undefined;
    case 'prefixed':
      return ({ jobId, stream, text }) => {
        const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
        process[stream].write(lines.map((line) => `(${jobId}) ${line}\n`).join(''));
      };
    case 'raw':
      return ({ stream, text }) => {
        process[stream].write(text);
      };
  }
}
