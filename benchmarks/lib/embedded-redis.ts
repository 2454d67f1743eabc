import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The url of a node's embedded redis-server, password included: the address from
 * `GET /rpc/node`, the password from the node's `DIR/.ks/credentials.json` (as the node's own
 * user can read it). For tests and benchmarks that look at keys.
 */
export async function embeddedRedisUrl(nodeUrl: string, datadir: string, token?: string): Promise<string> {
  const status = (await (await fetch(new URL('rpc/node', nodeUrl), { headers: token ? { authorization: `Bearer ${token}` } : {} })).json()) as { services: { name: string; url: string }[] };
  const url = new URL(status.services.find((s) => s.name === 'redis-server')!.url);
  url.password = (JSON.parse(readFileSync(join(datadir, '.ks', 'credentials.json'), 'utf8')) as { redisPassword: string }).redisPassword;
  return url.href;
}
