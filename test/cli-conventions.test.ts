import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Client } from '../index.js';
import { freePort, runKs, startNode, startServices, type KsNode } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';
import { stripVTControlCharacters } from 'node:util';

const run = promisify(execFile);
const KS_BIN = new URL('../../bin/ks.js', import.meta.url).pathname;
const TOKEN = 'conventions-token';

let node: KsNode;
let guarded: KsNode;
const scratch = scratchDir('cli-conventions');

test.before(async () => {
  [node, guarded] = await Promise.all([
    startNode({ name: 'conventions-node-with-a-long-name', workers: 1 }),
    startNode({ name: 'guarded', workers: 1, flags: ['--token', TOKEN] }),
  ]);
});

test.after.always(async () => {
  await Promise.all([node?.stop(), guarded?.stop()]);
  scratch.cleanup();
});

/** stderr as one line: oclif wraps an error's message and starts each line with ` › `. */
// Colours are stripped: with CI set, oclif's chalk colours even a pipe.
const flat = (text: string) => stripVTControlCharacters(text).replace(/\s*\n\s*›?\s*/g, ' ');

const ks = (args: string[], input?: string) => runKs([...args, '--node', node.url], { input, env: { KS_URL: '', KS_TOKEN: '' } });

test.serial('--json on every command prints JSON on stdout, an error as { error }', async (t) => {
  const file = join(scratch.dir, 'j.txt');
  writeFileSync(file, 'json please');
  const put = await ks(['data', 'put', file, 'json/j.txt', '--json']);
  t.is(put.code, 0, put.stderr);
  t.like(JSON.parse(put.stdout), { url: 'json/j.txt', size: 11 });
  const c = new Client(node.url, { output: 'silent' });
  t.teardown(() => c.close());
  const [id] = await c.map((x: number) => { console.log('hi'); return x; }, [1]).then(async () => (await c.jobs({ limit: 1 })).map((j) => j.id));

  const cases: [string[], (value: unknown) => boolean][] = [
    [['status'], (v) => Array.isArray((v as { nodes: unknown[] }).nodes)],
    [['jobs'], (v) => Array.isArray(v) && v.length >= 1],
    [['job', id], (v) => (v as { id: string }).id === id],
    [['logs', id], (v) => (v as { output: string }).output === 'hi\n'],
    [['cancel', 'no-such-job'], (v) => (v as { cancelled: string[] }).cancelled[0] === 'no-such-job'],
    [['data', 'ls'], (v) => (v as { url: string }[]).some((e) => e.url === 'json/j.txt')],
    [['data', 'info', 'json/j.txt'], (v) => (v as { size: number }).size === 11],
    [['data', 'get', 'json/j.txt', join(scratch.dir, 'back.txt')], (v) => (v as { size: number }).size === 11],
    [['data', 'import', 'json/j.txt'], (v) => Array.isArray((v as { results: unknown[] }).results)],
    [['data', 'rm', 'json/j.txt'], (v) => (v as { removed: Record<string, string[]> }).removed['json/j.txt'][0] === node.name],
  ];
  for (const [args, check] of cases) {
    const result = await ks([...args, '--json']);
    t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    t.true(check(JSON.parse(result.stdout)), `${args.join(' ')} --json: ${result.stdout}`);
  }
  const failed = await ks(['data', 'info', 'json/gone.txt', '--json']);
  t.is(failed.code, 1);
  t.regex((JSON.parse(failed.stdout) as { error: { message: string } }).error.message, /no data at url json\/gone\.txt/);
});

test.serial('--node names the node, --url is its alias; a bad --node says the url is invalid', async (t) => {
  for (const flag of ['--node', '--url']) {
    const result = await runKs(['status', flag, node.url, '--json']);
    t.is(result.code, 0, result.stderr);
    t.is((JSON.parse(result.stdout) as { nodes: unknown[] }).nodes.length, 1);
  }
  const bad = await runKs(['data', 'ls', '--node', 'foo']);
  t.is(bad.code, 2);
  t.regex(flat(bad.stderr), /--node foo is not a valid url/);
  const ftp = await runKs(['status', '--node', 'ftp://127.0.0.1/']);
  t.is(ftp.code, 2);
  t.regex(flat(ftp.stderr), /not a valid url: a node's url starts with http/);
});

test.serial('a missing or wrong token points to --token and KS_TOKEN', async (t) => {
  const missing = await runKs(['status', '--node', guarded.url], { env: { KS_TOKEN: '' } });
  t.is(missing.code, 1);
  t.regex(flat(missing.stderr), /requires a token: pass it with --token T \(or set KS_TOKEN\)/);
  const wrong = await runKs(['data', 'ls', '--node', guarded.url, '--token', 'nope']);
  t.is(wrong.code, 1);
  t.regex(flat(wrong.stderr), /refused the token: pass the cluster's token with --token T \(or KS_TOKEN\)/);
  const right = await runKs(['status', '--node', guarded.url, '--token', TOKEN]);
  t.is(right.code, 0, right.stderr);
});

test.serial('a missing local file says so; an unreachable node says how to point to one', async (t) => {
  const missing = await ks(['data', 'put', join(scratch.dir, 'nope.bin'), 'x/nope.bin']);
  t.is(missing.code, 2);
  t.regex(flat(missing.stderr), /no such local file: .*nope\.bin/);
  const down = await runKs(['status', '--node', 'http://127.0.0.1:1/']);
  t.is(down.code, 1);
  t.regex(flat(down.stderr), /--node URL \(or KS_URL\)/);
});

test.serial('sizes are binary and labelled so; ks status fits 100 columns, details behind --wide', async (t) => {
  const file = join(scratch.dir, 'three-kib.bin');
  writeFileSync(file, Buffer.alloc(3 * 1024, 1));
  t.is((await ks(['data', 'put', file, 'sizes/three-kib.bin'])).code, 0);
  const ls = await ks(['data', 'ls', '--long']);
  t.regex(ls.stdout, /sizes\/three-kib\.bin .* 3 KiB /);
  const status = await ks(['status']);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /1 url\(s\), 3 KiB/);
  const widest = Math.max(...status.stdout.split('\n').map((line) => line.length));
  t.true(widest <= 100, `ks status is ${widest} columns wide:\n${status.stdout}`);
  t.false(status.stdout.includes('received from peers'));
  const wide = await ks(['status', '--wide']);
  t.regex(wide.stdout, /received from peers/);
  t.true(wide.stdout.includes(node.url));
  t.true(Math.max(...wide.stdout.split('\n').map((line) => line.length)) > 100);
  await ks(['data', 'rm', 'sizes/three-kib.bin']);
});

test.serial('`ks data put -` reads stdin, and needs a url', async (t) => {
  const put = await ks(['data', 'put', '-', 'stdin/piped.txt'], 'from a pipe\n');
  t.is(put.code, 0, put.stderr);
  t.regex(put.stdout, /^stdin\/piped\.txt\t12 bytes\t/);
  const get = await ks(['data', 'get', 'stdin/piped.txt', '-']);
  t.is(get.stdout, 'from a pipe\n');
  const noUrl = await ks(['data', 'put', '-'], 'x');
  t.is(noUrl.code, 2);
  t.regex(flat(noUrl.stderr), /give the url to save it at/);
});

test.serial('`ks data rm GLOB` asks first: refuses without a terminal, --yes skips, a terminal answers', async (t) => {
  for (const url of ['glob/a.txt', 'glob/b.txt', 'glob/c.txt', 'kept/d.txt']) t.is((await ks(['data', 'put', '-', url], url)).code, 0);
  const refused = await ks(['data', 'rm', 'glob/*']);
  t.is(refused.code, 2);
  t.regex(flat(refused.stderr), /3 url\(s\) match glob\/\*; no terminal to confirm on: pass --yes/);
  t.is((await ks(['data', 'ls', 'glob/*'])).stdout, 'glob/a.txt\nglob/b.txt\nglob/c.txt\n');

  // On a pseudo-terminal (util-linux `script`, fed the answer on its stdin).
  const inTerminal = (answer: string, glob: string) => {
    const command = [process.execPath, KS_BIN, 'data', 'rm', glob, '--node', node.url].map((a) => `'${a}'`).join(' ');
    return new Promise<string>((resolve, reject) => {
      const child = execFile('script', ['-qec', command, '/dev/null'], (error, stdout) => (error ? reject(error) : resolve(stdout)));
      setTimeout(() => child.stdin!.end(answer), 1500);
    });
  };
  const no = await inTerminal('n\n', 'glob/a*');
  t.regex(no, /delete 1 url\(s\)\? \[y\/N\]/);
  t.regex(no, /nothing deleted/);
  t.true((await ks(['data', 'ls', 'glob/*'])).stdout.includes('glob/a.txt'));
  const yes = await inTerminal('y\n', 'glob/a*');
  t.regex(yes, /removed glob\/a\.txt from /);

  const all = await ks(['data', 'rm', 'glob/*', '--yes']);
  t.is(all.code, 0, all.stderr);
  t.is(all.stdout.split('\n').filter((l) => l.startsWith('removed glob/')).length, 2);
  t.is((await ks(['data', 'ls'])).stdout.includes('kept/d.txt'), true);
  t.is((await ks(['data', 'ls', 'glob/*'])).stdout, '');
});

test.serial('`ks help` (plugin-help) lists the commands; a mistyped command suggests the right one (plugin-not-found)', async (t) => {
  const help = await runKs(['help', 'data']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /data rm\s+Delete the data at URL, or at every url a glob matches/);
  const piped = await runKs(['stattus']);
  t.is(piped.code, 127);
  t.regex(flat(piped.stderr), /stattus is not a ks command\..*Run ks help for a list of available commands/);

  // On a terminal it asks "Did you mean status?"; yes (Enter) runs it with the same flags.
  const asked = (answer: string) => new Promise<string>((resolve) => {
    const command = [process.execPath, KS_BIN, 'stattus', '--node', node.url].map((a) => `'${a}'`).join(' ');
    const child = execFile('script', ['-qc', command, '/dev/null'], { env: { ...process.env, KS_URL: '', NO_COLOR: '1' } }, (_error, stdout) => resolve(stdout));
    setTimeout(() => child.stdin!.end(answer), 2000);
  });
  const yes = await asked('\r');
  t.regex(yes, /Did you mean .*status.*\?/);
  t.regex(yes, /1 live node\(s\)/);
  const no = await asked('n\r');
  t.regex(no, /Did you mean .*status.*\?/);
  t.notRegex(no, /live node/);
});

test.serial('`ks start --json` prints one JSON object once the node listens', async (t) => {
  const services = await startServices();
  const datadir = mkdtempSync(join(tmpdir(), 'ks-start-json-'));
  t.teardown(async () => {
    await services.stop();
    rmSync(datadir, { recursive: true, force: true });
  });
  const port = await freePort();
  const child = spawn(process.execPath, [KS_BIN, 'start', '--json', '--datadir', datadir, '--node-port', String(port), '--node-name', 'json-start', '--num-workers', '1', '--redis-url', services.redisUrl, '--nats-url', services.natsUrl], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KS_LOG_LEVEL: 'warn' } });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const started = Date.now();
  while (!stdout.trim().endsWith('}') && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  await exited;
  const info = JSON.parse(stdout) as { node: string; url: string; workers: number; services: unknown[] };
  t.deepEqual(info, { node: 'json-start', url: `http://127.0.0.1:${port}/`, workers: 1, services: [] });
  t.false(stdout.includes('listening on'));
});
