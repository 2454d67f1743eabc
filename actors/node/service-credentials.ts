import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The passwords of a node's embedded redis-server and nats-server (architecture §9). */
export interface ServiceCredentials {
  redisPassword: string;
  natsUser: string;
  natsPassword: string;
}

/**
 * Generated on the first start and kept in `DIR/.ks/credentials.json` (mode 0600), so a node
 * restarted on the same datadir keeps them: nodes that joined its cluster reconnect.
 */
export function serviceCredentials(datadir: string): ServiceCredentials {
  const path = join(datadir, '.ks', 'credentials.json');
  try {
    const kept = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServiceCredentials>;
    if (kept.redisPassword && kept.natsUser && kept.natsPassword) return kept as ServiceCredentials;
  } catch {
    // none yet (or unreadable): make new ones
  }
  const fresh: ServiceCredentials = { redisPassword: secret(), natsUser: 'ks', natsPassword: secret() };
  writeFileSync(path, JSON.stringify(fresh), { mode: 0o600 });
  return fresh;
}

/** 192 random bits in hex: safe unquoted in urls and both servers' config files. */
function secret(): string {
  return randomBytes(24).toString('hex');
}
