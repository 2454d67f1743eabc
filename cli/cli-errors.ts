import { KsError } from '../src/errors.js';
import { NodeUnreachableError } from '../src/client/transport.js';

/** `--node URL`, checked: a value that is not an http(s) url stops the command with a message saying so. */
export function checkNodeUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliUsageError(`--node ${value} is not a valid url: give a node's url such as http://127.0.0.1:6323/ (or set KS_URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliUsageError(`--node ${value} is not a valid url: a node's url starts with http:// or https:// (for example http://127.0.0.1:6323/)`);
  }
  return value;
}

/** A mistake in how the command was called (exit code 2). */
export class CliUsageError extends Error {}

/** An error's message, said in CLI terms: which flag or environment variable to change. */
export function explainError(error: unknown, context: { node: string; tokenGiven: boolean }): string {
  if (error instanceof CliUsageError) return error.message;
  if (error instanceof NodeUnreachableError) {
    return `${error.message}\nIs a node running there? Start one with \`ks start --datadir DIR\`, or point to one with --node URL (or KS_URL).`;
  }
  if (error instanceof KsError && error.code === 'unauthorized') {
    return context.tokenGiven
      ? `the node at ${context.node} refused the token: pass the cluster's token with --token T (or KS_TOKEN)`
      : `the node at ${context.node} requires a token: pass it with --token T (or set KS_TOKEN)`;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  if (code === 'ENOENT' && path) return `no such local file: ${path}`;
  if (code === 'EISDIR' && path) return `${path} is a folder, not a file`;
  if (code === 'EACCES' && path) return `cannot read ${path}: permission denied`;
  return error instanceof Error ? error.message : String(error);
}
