import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { startNode, type KsNode } from './helpers/cluster.js';
import { scratchDir } from './helpers/data.js';

const run = promisify(execFile);
const KS_BIN = new URL('../../bin/ks.js', import.meta.url).pathname;

let node: KsNode;
const scratch = scratchDir('cli');
const content = Buffer.alloc(3 * 1024 * 1024, 'cli bytes ');
const input = join(scratch.dir, 'input.bin');

test.before(async () => {
  node = await startNode({ workers: 1 });
  writeFileSync(input, content);
});

test.after.always(async () => {
  await node?.stop();
  scratch.cleanup();
});

/** Runs `ks data ...` against the node (KS_URL), returning stdout, stderr and the exit code. */
async function ks(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [KS_BIN, 'data', ...args], { env: { ...process.env, KS_URL: node.url }, encoding: 'buffer', maxBuffer: 64 << 20 });
    return { stdout: stdout.toString('latin1'), stderr: stderr.toString(), code: 0 };
  } catch (error) {
    const e = error as { stdout: Buffer; stderr: Buffer; code: number };
    return { stdout: e.stdout.toString('latin1'), stderr: e.stderr.toString(), code: e.code };
  }
}

test.serial('put uploads a file (url: the argument, or the file\'s name); put again is a clear write-once error', async (t) => {
  const put = await ks('put', input, 'cli/input.bin');
  t.is(put.code, 0, put.stderr);
  t.regex(put.stdout, /^cli\/input\.bin\t3145728 bytes\tsha256 [0-9a-f]{64}\ton node-\d+\n$/);
  t.notRegex(put.stdout + put.stderr, /%/, 'no progress bar when stdout is not a terminal');

  const byName = await ks('put', input);
  t.is(byName.code, 0, byName.stderr);
  t.regex(byName.stdout, /^input\.bin\t/);

  const again = await ks('put', input, 'cli/input.bin');
  t.is(again.code, 1);
  t.regex(again.stderr, /already exists[\s\S]*write-once/);
});

test.serial('ls lists urls matching a glob; --json gives the records', async (t) => {
  t.is((await ks('ls')).stdout, 'cli/input.bin\ninput.bin\n');
  t.is((await ks('ls', 'cli/*')).stdout, 'cli/input.bin\n');
  const json = JSON.parse((await ks('ls', '--json')).stdout) as { url: string; holders: string[]; info: { size: number } }[];
  t.deepEqual(json.map((e) => [e.url, e.info.size, e.holders.length]), [['cli/input.bin', 3145728, 1], ['input.bin', 3145728, 1]]);
  t.regex((await ks('ls', '--long')).stdout, /cli\/input\.bin\s.*3 MiB\s.*file/);
});

test.serial('info shows the catalog record', async (t) => {
  const info = await ks('info', 'cli/input.bin');
  t.is(info.code, 0, info.stderr);
  const record = JSON.parse(info.stdout) as Record<string, unknown>;
  t.like(record, { url: 'cli/input.bin', size: 3145728, fmt: 'file', state: 'ready', holders: [node.name], liveHolders: [node.name] });
  t.regex(record.sha256 as string, /^[0-9a-f]{64}$/);
  const missing = await ks('info', 'cli/missing');
  t.is(missing.code, 1);
  t.regex(missing.stderr, /no data at url cli\/missing/);
  const hostile = await ks('info', '../etc/passwd');
  t.is(hostile.code, 1);
  t.regex(hostile.stderr, /invalid data url/);
});

test.serial('get downloads to a file (checked) or to stdout', async (t) => {
  const out = join(scratch.dir, 'out.bin');
  const get = await ks('get', 'cli/input.bin', out);
  t.is(get.code, 0, get.stderr);
  t.true(readFileSync(out).equals(content));
  t.regex(get.stdout, /3145728 bytes\tsha256 [0-9a-f]{64}/);
  const piped = await ks('get', 'cli/input.bin', '-');
  t.is(piped.code, 0, piped.stderr);
  t.true(Buffer.from(piped.stdout, 'latin1').equals(content));
});

test.serial('a terminal gets a progress bar', async (t) => {
  // `script` runs the command on a pseudo-terminal, so stdout is a TTY.
  const command = [process.execPath, KS_BIN, 'data', 'put', input, 'cli/tty.bin', '--url', node.url].map((a) => `'${a}'`).join(' ');
  const { stdout } = await run('script', ['-qec', command, '/dev/null']);
  t.regex(stdout, /upload .*100% \| 3 MiB of 3 MiB/);
  t.regex(stdout, /cli\/tty\.bin\t3145728 bytes/);
});

test.serial('rm deletes the data; it is gone from the listing and the disk', async (t) => {
  const rm = await ks('rm', 'cli/input.bin');
  t.is(rm.code, 0, rm.stderr);
  t.is(rm.stdout, `removed cli/input.bin from ${node.name}\n`);
  t.false((await ks('ls')).stdout.includes('cli/input.bin'));
  t.is((await ks('rm', 'cli/input.bin')).code, 1);
});
