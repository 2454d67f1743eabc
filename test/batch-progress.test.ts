import { spawn } from 'node:child_process';
import test from 'ava';
import { Client } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

const FIXTURE = new URL('./fixtures/progress-client.js', import.meta.url).pathname;
const BAR = /\d+\/20 done/;

let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'progress', workers: 2 });
});

test.after.always(async () => {
  await node?.stop();
});

interface Run { code: number | null; stdout: string; stderr: string }

function run(command: string, args: string[]): Promise<Run> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', COLUMNS: '100' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

/** The fixture client under a pseudo-terminal (util-linux `script`): stdout and stderr both a TTY. */
function inTerminal(mode: string): Promise<Run> {
  return run('script', ['-q', '-c', `${process.execPath} ${FIXTURE} ${node.url} ${mode}`, '/dev/null']);
}

/** What a terminal shows: each line as it is left after `\r` + erase-line rewrites. */
function screenLines(transcript: string): string[] {
  return transcript.split('\n').map((line) => {
    const text = line.replace(/\r$/, '');
    const cut = text.lastIndexOf('\r\x1b[2K');
    return cut === -1 ? text : text.slice(cut + 5);
  });
}

test('in a terminal, a 2 s map() draws the bar on stderr, below the tasks\' output lines', async (t) => {
  const { code, stdout } = await inTerminal('on');
  t.is(code, 0, stdout);
  t.true(stdout.includes('\r\x1b[2K'), 'the bar line is cleared and redrawn');
  t.regex(stdout, BAR);
  t.regex(stdout, /jobs\/s \| ETA/);
  const lines = screenLines(stdout);
  t.true(lines.includes('[████████████████████] 20/20 done | ' + lines.find((l) => l.includes('20/20 done'))!.split('20/20 done | ')[1]), 'the last bar shows every job done');
  // Every task line stands alone on the screen: the bar never shares its line.
  for (let i = 0; i < 20; i++) t.true(lines.includes(`task-line-${i}`), `task-line-${i} on a line of its own:\n${JSON.stringify(stdout)}`);
  t.true(lines.includes('sum 190'));
});

test('through a pipe, nothing but the output is printed', async (t) => {
  const { code, stdout, stderr } = await run(process.execPath, [FIXTURE, node.url, 'on']);
  t.is(code, 0, stderr);
  t.is(stderr, '');
  t.notRegex(stdout, BAR);
  t.false(stdout.includes('\x1b'));
  for (let i = 0; i < 20; i++) t.true(stdout.includes(`task-line-${i}\n`));
});

test('progress: false and output: \'silent\' never draw the bar, even in a terminal', async (t) => {
  const [off, silent] = [await inTerminal('off'), await inTerminal('silent')];
  t.is(off.code, 0, off.stdout);
  t.is(silent.code, 0, silent.stdout);
  t.notRegex(off.stdout, BAR);
  t.true(off.stdout.includes('task-line-19'));
  t.notRegex(silent.stdout, BAR);
  t.false(silent.stdout.includes('task-line-'));
  t.true(silent.stdout.includes('sum 190'));
});

test('onProgress gets monotone counts from 0 to the total, failures counted, without a terminal', async (t) => {
  const seen: { done: number; failed: number; total: number; etaMs: number | undefined }[] = [];
  const c = new Client(node.url, { output: 'silent', onProgress: (p) => seen.push({ done: p.done, failed: p.failed, total: p.total, etaMs: p.etaMs }) });
  t.teardown(() => c.close());
  const results = await c.map((i: number) => i * 2, [1, 2, 3, 4, 5, 6, 7, 8]);
  t.deepEqual(results, [2, 4, 6, 8, 10, 12, 14, 16]);
  t.deepEqual(seen.map((p) => p.done), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.true(seen.every((p) => p.total === 8 && p.failed === 0));
  t.is(seen[0].etaMs, undefined);
  t.is(seen.at(-1)!.etaMs, 0);

  seen.length = 0;
  c.bc((x: number) => x, 1);
  c.bc(() => { throw new Error('boom'); });
  await t.throwsAsync(() => c.br(), { message: /boom/ });
  const last = seen.at(-1)!;
  t.is(last.failed, 1);
  t.true(last.done <= 1);
  for (let i = 1; i < seen.length; i++) t.true(seen[i].done + seen[i].failed === seen[i - 1].done + seen[i - 1].failed + 1);
});
