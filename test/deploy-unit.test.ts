import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { nodeFlags } from '../cli/node-flags.js';

const UNIT = new URL('../../deploy/kitchensink.service', import.meta.url).pathname;

test('deploy/kitchensink.service passes systemd-analyze verify', (t) => {
  const found = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  if (found.status !== 0) {
    t.pass('systemd-analyze is not installed here: nothing to verify with');
    return;
  }
  const run = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  t.is(run.stderr.trim(), '', 'no warning');
});

test('the unit starts the node with flags ks start has, and no secret on its command line', (t) => {
  const text = readFileSync(UNIT, 'utf8');
  const execStart = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(text)![1].replace(/\\\n/g, ' ');
  const flags = [...execStart.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
  t.true(flags.length > 5);
  for (const flag of flags) t.true(flag in nodeFlags, `--${flag} is a ks start flag`);
  for (const secret of ['token', 'redis-url']) t.false(flags.includes(secret), `--${secret} would put a secret in ps: the unit uses the -file form`);
  t.true(execStart.includes('--token-file') && execStart.includes('--redis-url-file') && execStart.includes('--nats-creds'));
  t.regex(text, /^User=kitchensink$/m);
  t.regex(text, /^KillMode=mixed$/m, 'SIGTERM reaches the node only: it stops its own servers after draining');
});
