import { createHash } from 'node:crypto';
import vm from 'node:vm';
import { parse, type Node as AcornNode } from 'acorn';
import { full as walkFull } from 'acorn-walk';
import { KsError } from './errors.js';

/** The name shipped code uses for `import()` after `prepareSource` rewrote it. */
export const IMPORT_HOOK = '__ks_import';

/**
 * Turns a function's source (`fn.toString()`) into an expression that evaluates to the
 * function. Accepts function declarations and expressions, arrows, async and generator
 * functions, and method shorthand (`name(a) { ... }`, what object methods stringify to).
 * Every `import(...)` is rewritten to call the executor's import hook, so that
 * `await import('kitchensink')` and the node's packages resolve from the node.
 * Throws a `compile_error` KsError when the source does not parse.
 */
export function prepareSource(source: string, name: string): string {
  const candidates = [`(${source}\n)`, `Object.values({${source}\n})[0]`];
  let firstError: unknown;
  for (const text of candidates) {
    try {
      const ast = parse(text, { ecmaVersion: 'latest', sourceType: 'script' });
      return rewriteImports(text, ast);
    } catch (error) {
      firstError ??= error;
    }
  }
  const detail = firstError instanceof Error ? firstError.message : String(firstError);
  throw new KsError('compile_error', `function ${name || '(anonymous)'} does not compile: SyntaxError: ${detail}`);
}

/**
 * Checks a shipped function as a node receives it: its key must be the sha256 of its source
 * (executors cache compiled functions by key) and the source must parse.
 */
export function checkShipped(sha: string, fn: { name: string; source: string }): void {
  const actual = createHash('sha256').update(fn.source).digest('hex');
  if (actual !== sha) throw new KsError('bad_request', `function ${fn.name || '(anonymous)'}: its key ${sha} is not the sha256 of its source`);
  prepareSource(fn.source, fn.name);
}

/**
 * Remembers the shipped functions already checked (sha256 → source), so that a function
 * called again and again is hashed and parsed once. The same key with another source is
 * checked again (and refused). Forgets everything now and then to bound its memory.
 */
export class CheckedSources {
  private readonly checked = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  check(sha: string, fn: { name: string; source: string }): void {
    if (this.checked.get(sha) === fn.source) return;
    checkShipped(sha, fn);
    if (this.checked.size >= this.max) this.checked.clear();
    this.checked.set(sha, fn.source);
  }
}

function rewriteImports(text: string, ast: AcornNode): string {
  const starts: number[] = [];
  walkFull(ast, (node) => {
    if (node.type === 'ImportExpression') starts.push(node.start);
  });
  if (starts.length === 0) return text;
  starts.sort((a, b) => a - b);
  let out = '';
  let last = 0;
  for (const start of starts) {
    out += text.slice(last, start) + IMPORT_HOOK;
    last = start + 'import'.length;
  }
  return out + text.slice(last);
}

export type ImportHook = (specifier: string) => Promise<unknown>;

/** Evaluates a prepared source into a callable function. */
export function instantiate(prepared: string, name: string, importHook: ImportHook): (...args: unknown[]) => unknown {
  const factory = vm.compileFunction(`return ${prepared}`, [IMPORT_HOOK, '__name'], {
    filename: `ks-function:${name || 'anonymous'}`,
  });
  // `__name` is the helper esbuild/tsx inject when keeping function names.
  const fn = factory(importHook, (target: unknown) => target) as unknown;
  if (typeof fn !== 'function') {
    throw new KsError('compile_error', `function ${name || '(anonymous)'} does not evaluate to a function`);
  }
  return fn as (...args: unknown[]) => unknown;
}
