/**
 * The one Lua calling convention (src/store/scripts.ts, docs/architecture.md §4): every script
 * takes KEYS[1] = the cluster's base and then the fixed keys SCRIPT_KEYS declares for it, and
 * builds every other key from KEYS[1] with the shapes of keys.ts. Checked on the files
 * themselves, and on planted scripts to show that the checks find an offender.
 */
import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import { Keys } from '../src/store/keys.js';
import { SCRIPT_KEYS, SCRIPTS, numberOfKeys, type ScriptName } from '../src/store/scripts.js';

const LUA_DIR = new URL('../../src/store/lua/', import.meta.url);

function source(name: string): string {
  return readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
}

/** The header comment (`--[[ ... ]]`) and the code after it, without `--` line comments. */
function split(text: string): { header: string; code: string } {
  const end = text.indexOf(']]');
  const header = text.startsWith('--[[') && end > 0 ? text.slice(0, end) : '';
  const code = text.slice(header ? end + 2 : 0).split('\n').map((line) => line.replace(/--.*$/, '')).join('\n');
  return { header, code };
}

/** Every key shape keys.ts makes, with `<x>` for a parameter: `job:<x>`, `queues`, ... */
function keyShapes(): Set<string> {
  const keys = new Keys('');
  const shapes = new Set<string>();
  const proto = Object.getPrototypeOf(keys) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
    const value: unknown = descriptor.get ? descriptor.get.call(keys) : (keys as unknown as Record<string, (x: string) => string>)[name]('<x>');
    if (typeof value === 'string') shapes.add(value.slice(keys.base.length));
  }
  return shapes;
}

/** What is wrong with one script against the convention (empty: nothing). */
function problems(name: string, text: string, declared: readonly string[]): string[] {
  const found: string[] = [];
  const { header, code } = split(text);
  const count = 1 + declared.length;
  const headerKeys = [...header.matchAll(/^\s*KEYS\[(\d+)\]\s+(\S+)/gm)].map((m) => ({ index: Number(m[1]), shape: m[2] }));
  if (headerKeys.map((k) => k.index).join() !== Array.from({ length: count }, (_, i) => i + 1).join()) {
    found.push(`${name}: the header lists KEYS ${headerKeys.map((k) => k.index).join(',') || 'none'}, scripts.ts declares ${count}`);
  }
  if (headerKeys[0]?.shape !== 'base:') found.push(`${name}: KEYS[1] is not the base`);
  headerKeys.slice(1).forEach((k, i) => {
    if (k.shape !== declared[i]) found.push(`${name}: KEYS[${k.index}] is ${k.shape} in the header, ${declared[i]} in scripts.ts`);
  });
  if (/\bKEYS\[\s*[^\d\s]/.test(code) || /#KEYS|ipairs\(KEYS\)|unpack\(KEYS/.test(code)) found.push(`${name}: KEYS read by a computed index`);
  for (const m of code.matchAll(/\bKEYS\[(\d+)\]/g)) {
    if (Number(m[1]) > count) found.push(`${name}: reads KEYS[${m[1]}] beyond the ${count} declared`);
  }
  if (/\blocal p = ARGV/.test(code)) found.push(`${name}: the prefix comes from ARGV`);
  if (/ARGV\[\d+\]\s*\.\.\s*'[a-z-]+:'/.test(code)) found.push(`${name}: a key is built from an ARGV prefix`);
  if (/^\s*ARGV\[\d+\]\s+(key )?prefix/im.test(header)) found.push(`${name}: the header takes the prefix in ARGV`);
  // Keys built in the script: from the base (p = KEYS[1], or KEYS[1] itself) and a shape of keys.ts.
  const shapes = keyShapes();
  if (/\bp\s*\.\./.test(code) && !/\blocal p = KEYS\[1\]/.test(code)) found.push(`${name}: builds keys from p, which is not KEYS[1]`);
  for (const m of code.matchAll(/(?:\bp|KEYS\[1\])\s*\.\.\s*'([^']*)'/g)) {
    if (!shapes.has(`${m[1]}<x>`) && !shapes.has(m[1])) found.push(`${name}: builds the key shape '${m[1]}', which keys.ts does not make`);
  }
  return found;
}

test('every script in src/store/lua is declared in scripts.ts, and every declared script has its file', (t) => {
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort();
  t.deepEqual(files, [...SCRIPTS].sort());
});

test('every script takes KEYS[1] = the base, then exactly its declared fixed keys, and builds the rest from the base', (t) => {
  const all = SCRIPTS.flatMap((name) => problems(name, source(name), SCRIPT_KEYS[name]));
  t.deepEqual(all, []);
  t.is(numberOfKeys('claimJobs'), 1, 'a claim passes one key, whatever the number of queues and jobs');
  t.is(numberOfKeys('enqueueJobs'), 2, 'a chunk of jobs passes the base and the set of queue names');
});

test('the fixed keys scripts.ts declares are keys that keys.ts makes', (t) => {
  const shapes = keyShapes();
  for (const name of SCRIPTS) {
    for (const shape of SCRIPT_KEYS[name] as readonly string[]) {
      if (!shape.startsWith('<')) t.true(shapes.has(shape), `${name}: ${shape}`);
    }
  }
});

test('the checks find planted offenders', (t) => {
  const ok = '--[[\n  KEYS[1]  base: the prefix\n  KEYS[2]  queues\n  ARGV[1]  id\n]]\nlocal p = KEYS[1]\nredis.call(\'HGET\', p .. \'job:\' .. ARGV[1], \'st\')\nredis.call(\'SADD\', KEYS[2], ARGV[1])\n';
  t.deepEqual(problems('ok', ok, ['queues']), []);
  const name = 'planted' as ScriptName;
  t.true(problems(name, ok, []).some((p) => p.includes('scripts.ts declares 1')), 'a count that differs from the table');
  t.true(problems(name, ok.replace('KEYS[2], ARGV[1])', 'KEYS[3], ARGV[1])'), ['queues']).some((p) => p.includes('beyond')), 'an undeclared key');
  t.true(problems(name, '--[[\n  KEYS[1]  base: x\n  ARGV[1]  key prefix\n]]\nlocal p = ARGV[1]\nreturn redis.call(\'GET\', p .. \'epoch\')\n', []).length >= 2, 'the prefix in ARGV');
  t.true(problems(name, ok.replace("'job:'", "'jobs:'"), ['queues']).some((p) => p.includes("'jobs:'")), 'a key shape keys.ts does not make');
  t.true(problems(name, ok + 'for _, k in ipairs(KEYS) do end\n', ['queues']).some((p) => p.includes('computed')), 'KEYS iterated');
});
