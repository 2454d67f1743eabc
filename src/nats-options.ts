import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

/** How a node or client reaches NATS beyond its url (docs/security.md). */
export interface NatsAccess {
  /** PEM of the CA that signed the servers' certificates (`--nats-ca`): TLS is then required */
  ca?: string;
  /**
   * The text of `--nats-creds FILE`: a NATS credentials file (the JWT and seed `nsc` writes),
   * or a first line `user:password` or a token.
   */
  creds?: string;
}

/**
 * The servers and authentication of a NATS url or comma-separated list of urls (the servers
 * of a NATS cluster). `nats://user:pass@host`, `nats://token@host` and `tls://host` are taken
 * apart here: nats.js takes credentials and TLS as options, not from the url.
 */
export function natsConnectOptions(url: string, access: NatsAccess = {}): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token' | 'tls' | 'authenticator'> {
  const options: ReturnType<typeof natsConnectOptions> = { servers: [] };
  let wantsTls = access.ca !== undefined;
  for (const entry of url.split(',').map((s) => s.trim()).filter(Boolean)) {
    const parsed = new URL(entry.includes('://') ? entry : `nats://${entry}`);
    if (parsed.protocol === 'tls:') wantsTls = true;
    if (parsed.username && options.user === undefined && options.token === undefined) {
      if (parsed.password) {
        options.user = decodeURIComponent(parsed.username);
        options.pass = decodeURIComponent(parsed.password);
      } else {
        options.token = decodeURIComponent(parsed.username);
      }
    }
    (options.servers as string[]).push(`${parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname}:${parsed.port || '4222'}`);
  }
  if (access.creds) Object.assign(options, credsFrom(access.creds));
  if (wantsTls) options.tls = access.ca ? { ca: access.ca } : {};
  return options;
}

function credsFrom(text: string): Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'> {
  if (text.includes('-----BEGIN NATS USER JWT-----')) return { authenticator: credsAuthenticator(new TextEncoder().encode(text)) };
  const line = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  const colon = line.indexOf(':');
  return colon > 0 ? { user: line.slice(0, colon), pass: line.slice(colon + 1) } : { token: line };
}
