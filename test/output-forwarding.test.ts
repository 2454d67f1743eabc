import test from 'ava';
import { Client, type OutputEvent } from '../index.js';
import { startNode, type KsNode } from './helpers/cluster.js';

let node: KsNode;

test.before(async () => {
  node = await startNode({ name: 'output', workers: 2 });
});

test.after.always(async () => {
  await node?.stop();
});

interface Seen extends OutputEvent {
  at: number;
}

/** A client whose output handler records every chunk with the time it arrived. */
function recordingClient(): { c: Client; seen: Seen[] } {
  const seen: Seen[] = [];
  const c = new Client(node.url, { output: (event) => seen.push({ ...event, at: Date.now() }) });
  return { c, seen };
}

/** Splits the recorded chunks of one job into lines (a chunk may hold several). */
function linesOf(seen: Seen[], jobId: string): { stream: string; line: string }[] {
  return seen
    .filter((e) => e.jobId === jobId)
    .flatMap((e) => e.text.split('\n').filter(Boolean).map((line) => ({ stream: e.stream, line })));
}

test('output reaches the client while the task is still running', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  c.bc(async () => {
    console.log('started');
    await new Promise((r) => setTimeout(r, 1000));
    return 'finished';
  });
  const [id] = await c.execute();
  const started = Date.now();
  const results = await c.br();
  const resolvedAt = Date.now();
  t.deepEqual(results, ['finished']);
  const line = seen.find((e) => e.text.includes('started'));
  t.truthy(line, 'the line arrived');
  t.is(line!.jobId, id);
  t.is(line!.stream, 'stdout');
  // The task waits 1 s after printing: the line must arrive long before the result.
  t.true(resolvedAt - line!.at >= 600, `line at +${line!.at - started} ms, result at +${resolvedAt - started} ms`);
});

test('stdout, stderr and every console method arrive in order, on the right stream', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  c.bc(() => {
    for (let i = 0; i < 20; i++) {
      process.stdout.write(`stdout ${i}\n`);
      process.stderr.write(`stderr ${i}\n`);
      console.log(`log ${i}`);
      console.error(`error ${i}`);
      console.warn(`warn ${i}`);
      console.info(`info ${i}`);
      console.debug(`debug ${i}`);
    }
    process.stdout.write(Buffer.from('bytes too\n'));
    return 'ok';
  });
  const [id] = await c.execute();
  t.deepEqual(await c.br(), ['ok']);
  const expected: { stream: string; line: string }[] = [];
  for (let i = 0; i < 20; i++) {
    expected.push(
      { stream: 'stdout', line: `stdout ${i}` },
      { stream: 'stderr', line: `stderr ${i}` },
      { stream: 'stdout', line: `log ${i}` },
      { stream: 'stderr', line: `error ${i}` },
      { stream: 'stderr', line: `warn ${i}` },
      { stream: 'stdout', line: `info ${i}` },
      { stream: 'stdout', line: `debug ${i}` },
    );
  }
  expected.push({ stream: 'stdout', line: 'bytes too' });
  t.deepEqual(linesOf(seen, id), expected);
});

test('the output of concurrent jobs is attributed to each job, in order within each', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  const talk = async (name: string, count: number) => {
    for (let i = 0; i < count; i++) {
      console.log(`${name} ${i}`);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    return name;
  };
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (const name of names) c.bc(talk, name, 100);
  const ids = await c.execute();
  t.deepEqual(await c.br(), names);
  names.forEach((name, i) => {
    t.deepEqual(linesOf(seen, ids[i]).map((l) => l.line), Array.from({ length: 100 }, (_, k) => `${name} ${k}`));
  });
});

test('output a task writes after its last await, just before returning, is not lost', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  for (let i = 0; i < 20; i++) c.bc((n: number) => {
    console.log(`last words ${n}`);
    return n;
  }, i);
  const ids = await c.execute();
  await c.br();
  ids.forEach((id, i) => t.deepEqual(linesOf(seen, id).map((l) => l.line), [`last words ${i}`]));
});

test('intermediateResults: false turns output off for that call only', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  const say = (word: string) => {
    console.log(word);
    console.error(word);
    return word;
  };
  c.bcWith({ intermediateResults: false }, say, 'quiet');
  c.bc(say, 'loud');
  const [quiet, loud] = await c.execute();
  t.deepEqual(await c.br(), ['quiet', 'loud']);
  t.deepEqual(linesOf(seen, quiet), []);
  t.deepEqual(linesOf(seen, loud), [{ stream: 'stdout', line: 'loud' }, { stream: 'stderr', line: 'loud' }]);
  // The same function in the next call forwards again.
  c.bc(say, 'again');
  const [again] = await c.execute();
  await c.br();
  t.deepEqual(linesOf(seen, again).map((l) => l.line), ['again', 'again']);
});

test('output of call() and of a failing job arrives too', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  t.is(await c.call(() => {
    console.log('from call');
    return 1;
  }), 1);
  t.true(seen.some((e) => e.text === 'from call\n'));
  c.bc(() => {
    console.log('about to fail');
    throw new Error('failed after printing');
  });
  const [id] = await c.execute();
  await t.throwsAsync(c.br(), { message: 'failed after printing' });
  t.deepEqual(linesOf(seen, id).map((l) => l.line), ['about to fail']);
});

test('the default output mode writes remote output to this process\'s stdout/stderr', async (t) => {
  const c = new Client(node.url);
  t.teardown(() => c.close());
  const written: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('raw mode line')) {
      written.push(String(chunk));
      return true;
    }
    return original(chunk, ...(rest as []));
  }) as typeof process.stdout.write;
  try {
    await c.call(() => console.log('raw mode line'));
  } finally {
    process.stdout.write = original;
  }
  t.deepEqual(written, ['raw mode line\n']);
});

test('a single write larger than a NATS message arrives whole, and the node survives it', async (t) => {
  const { c, seen } = recordingClient();
  t.teardown(() => c.close());
  c.bc((n: number) => {
    process.stdout.write('a'.repeat(n));
    // Multi-byte text: 3 bytes per character in UTF-8, then astral characters (surrogate
    // pairs) placed so that a 64 Ki-unit piece boundary falls inside a pair.
    console.error('€'.repeat(n / 2 + 1) + '𝄞'.repeat(n / 4));
    return 'printed';
  }, 3_000_000);
  const [id] = await c.execute();
  t.deepEqual(await c.br(), ['printed']);
  const out = seen.filter((e) => e.jobId === id && e.stream === 'stdout').map((e) => e.text).join('');
  const err = seen.filter((e) => e.jobId === id && e.stream === 'stderr').map((e) => e.text).join('');
  t.is(out.length, 3_000_000);
  t.true(/^a+$/.test(out));
  t.is(err, `${'€'.repeat(1_500_001)}${'𝄞'.repeat(750_000)}\n`);
  t.is(await c.call((x: number) => x + 1, 1), 2);
});
