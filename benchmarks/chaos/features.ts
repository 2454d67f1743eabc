import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from '../../index.js';

const KS_BIN = new URL('../../../bin/ks.js', import.meta.url).pathname;

/** What this build supports of the issue-9 APIs, found out at run time (the script runs on old and new code). */
export interface Features {
  /** `new Client([url1, url2])` */
  urlArrays: boolean;
  /** ClientOptions.requestTimeoutMs is read by the client */
  requestTimeout: boolean;
  /** `ks start --drain-timeout` */
  drainTimeout: boolean;
  /** `c.results(ids)` */
  results: boolean;
}

export function detectFeatures(): Features {
  let urlArrays = false;
  try {
    const c = new Client(['http://127.0.0.1:9/', 'http://127.0.0.1:10/'] as unknown as string);
    urlArrays = true;
    void c.close().catch(() => undefined);
  } catch {
    urlArrays = false;
  }
  const clientDir = new URL('../../src/client/', import.meta.url);
  const clientSource = ['client.js', 'transport.js'].map((f) => {
    try {
      return readFileSync(new URL(f, clientDir), 'utf8');
    } catch {
      return '';
    }
  }).join('\n');
  let help = '';
  try {
    help = execFileSync(process.execPath, [KS_BIN, 'start', '--help'], { encoding: 'utf8', timeout: 20_000 });
  } catch {
    help = '';
  }
  return {
    urlArrays,
    requestTimeout: clientSource.includes('requestTimeoutMs'),
    drainTimeout: help.includes('--drain-timeout'),
    results: typeof (Client.prototype as unknown as { results?: unknown }).results === 'function',
  };
}
