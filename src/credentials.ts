import { readFileSync } from 'node:fs';

/**
 * Credentials in urls and files (docs/security.md): how they are read, and how a url is shown
 * without them. Redis and NATS urls may carry `user:password@` or `token@`; nothing that
 * prints, logs or serves a url shows that part.
 */

/** A url with its `user:password@` replaced by `***@` (a comma-separated list: each one). */
export function redactUrl(url: string): string {
  return url.replace(/(^|,)(\s*[a-z][a-z0-9+.-]*:\/\/)[^@/,]*@/gi, '$1$2***@');
}

/** Whether a url (or any url of a comma-separated list) carries a user, password or token. */
export function hasCredentials(url: string | undefined): boolean {
  return url !== undefined && redactUrl(url) !== url;
}

/**
 * The first line of a file holding a secret (a token, a url with a password), trimmed. The
 * secret never reaches a command line: `--token-file`, `--redis-url-file`, `--nats-creds`.
 */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${what} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const line = text.split('\n').find((l) => l.trim() !== '')?.trim();
  if (!line) throw new Error(`${what} ${path} is empty`);
  return line;
}

/**
 * Environment variables that may carry a secret: removed from the node's own environment once
 * read, so worker threads (tasks) and child processes never see them.
 */
export const SECRET_ENV = ['KS_TOKEN', 'KS_UI_TOKEN', 'KS_REDIS_URL', 'KS_NATS_URL'] as const;

/** `env` without the variables of SECRET_ENV. */
export function withoutSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !(SECRET_ENV as readonly string[]).includes(name)) clean[name] = value;
  }
  return clean;
}
