import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { ThreadedSha256 } from '../src/sha256-thread.js';

const reference = (chunks: Buffer[]) => createHash('sha256').update(Buffer.concat(chunks)).digest('hex');

test('matches node:crypto over chunks of every size, across batch boundaries', async (t) => {
  const chunks = [0, 1, 17, 65_536, 1 << 20, (1 << 20) + 3, 5, 3 * (1 << 20) - 1].map((n) => randomBytes(n));
  const hash = new ThreadedSha256();
  for (const chunk of chunks) await hash.update(chunk);
  t.is(await hash.digest(), reference(chunks));
});

test('an empty input, and a Uint8Array view into a larger buffer', async (t) => {
  t.is(await new ThreadedSha256().digest(), createHash('sha256').digest('hex'));
  const backing = randomBytes(4096);
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 1000);
  const hash = new ThreadedSha256();
  await hash.update(view);
  t.is(await hash.digest(), reference([Buffer.from(view)]));
});

test('many hashes at once stay apart; more than the in-flight limit makes update() wait', async (t) => {
  const inputs = Array.from({ length: 6 }, (_, i) => Array.from({ length: 20 }, () => randomBytes(1 << 20 | i)));
  const digests = await Promise.all(inputs.map(async (chunks) => {
    const hash = new ThreadedSha256();
    let waited = 0;
    for (const chunk of chunks) {
      const wait = hash.update(chunk);
      if (wait) {
        waited++;
        await wait;
      }
    }
    return { digest: await hash.digest(), waited };
  }));
  digests.forEach(({ digest }, i) => t.is(digest, reference(inputs[i])));
  t.true(digests.some(({ waited }) => waited > 0), 'the in-flight limit was reached at least once');
});

test('an aborted hash is dropped and others go on', async (t) => {
  const aborted = new ThreadedSha256();
  await aborted.update(randomBytes(3 << 20));
  aborted.abort();
  const chunks = [randomBytes(2 << 20)];
  const hash = new ThreadedSha256();
  await hash.update(chunks[0]);
  t.is(await hash.digest(), reference(chunks));
});
