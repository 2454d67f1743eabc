import { createHash } from 'node:crypto';
import vm from 'node:vm';
import { parse, type AnyNode, type Identifier, type Node as AcornNode, type VariableDeclaration } from 'acorn';
import { ancestor as walkAncestor, full as walkFull, type AncestorVisitors } from 'acorn-walk';
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
  const { text, ast } = parseFunction(source, name);
  return rewriteImports(text, ast);
}

function parseFunction(source: string, name: string): { text: string; ast: AcornNode } {
  const candidates = [`(${source}\n)`, `Object.values({${source}\n})[0]`];
  let firstError: unknown;
  for (const text of candidates) {
    try {
      return { text, ast: parse(text, { ecmaVersion: 'latest', sourceType: 'script' }) };
    } catch (error) {
      firstError ??= error;
    }
  }
  const detail = firstError instanceof Error ? firstError.message : String(firstError);
  throw new KsError('compile_error', `function ${name || '(anonymous)'} does not compile: SyntaxError: ${detail}`);
}

export const CLOSURE_HINT = 'Shipped functions travel as source, so they cannot use variables from the scope they were written in; pass captured values as arguments';

/**
 * Checks a shipped function as a node receives it: its key must be the sha256 of its source
 * (executors cache compiled functions by key), the source must parse, and every variable it
 * uses must be its own or a global of a worker thread (a `compile_error` naming the others).
 */
export function checkShipped(sha: string, fn: { name: string; source: string }): void {
  const actual = createHash('sha256').update(fn.source).digest('hex');
  if (actual !== sha) throw new KsError('bad_request', `function ${fn.name || '(anonymous)'}: its key ${sha} is not the sha256 of its source`);
  const captured = capturedVariables(parseFunction(fn.source, fn.name).ast);
  if (captured.length > 0) {
    throw new KsError('compile_error', `function ${fn.name || '(anonymous)'} uses variables it does not declare: ${captured.join(', ')}. ${CLOSURE_HINT}`);
  }
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

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
/** What `let`, `const` and `class` declarations are scoped to (a function's own body is a BlockStatement). */
const BLOCKS = new Set(['BlockStatement', 'StaticBlock', 'ForStatement', 'ForInStatement', 'ForOfStatement', 'SwitchStatement', 'Program', ...FUNCTIONS]);
const HOISTS_TO = new Set(['Program', ...FUNCTIONS]);
/** What stands between a bound name and what binds it: `[a, { b = 1 }, ...c]`. */
const PATTERNS = new Set(['ArrayPattern', 'ObjectPattern', 'RestElement', 'AssignmentPattern']);

/**
 * The names a parsed function uses that it does not declare and that are no global of a
 * worker thread: what it expected to find in the scope it was written in. A name the function
 * tests with `typeof` anywhere does not count (feature detection: `typeof window !== 'undefined'
 * ? window : globalThis`). A function containing `with` is not checked.
 */
function capturedVariables(ast: AcornNode): string[] {
  const declared = new Map<AnyNode, Set<string>>();
  const used: { name: string; scopes: AnyNode[] }[] = [];
  const guarded = new Set<string>();
  let hasWith = false;
  // `VariablePattern` (a name being bound or assigned to) is a walker type acorn-walk's typings omit.
  const visitors: Record<string, (node: AnyNode, state: unknown, ancestors: AnyNode[]) => void> = {
    VariablePattern(node, _state, ancestors) {
      const { name } = node as Identifier;
      let i = ancestors.length - 2;
      while (PATTERNS.has(ancestors[i].type)) i--;
      const scope = bindingScope(ancestors[i], node as Identifier, ancestors.slice(0, i));
      if (scope) {
        let names = declared.get(scope);
        if (!names) declared.set(scope, (names = new Set()));
        names.add(name);
      } else {
        used.push({ name, scopes: ancestors.slice(0, -1) }); // assigned to: `x = 1`, `[x] = a`
      }
    },
    Identifier(node, _state, ancestors) {
      const parent = ancestors[ancestors.length - 2];
      if (parent.type === 'UnaryExpression' && parent.operator === 'typeof') {
        guarded.add((node as Identifier).name);
        return;
      }
      used.push({ name: (node as Identifier).name, scopes: ancestors.slice(0, -1) });
    },
    WithStatement() {
      hasWith = true;
    },
  };
  walkAncestor(ast, visitors as AncestorVisitors<unknown>);
  if (hasWith) return [];
  const globals = workerGlobals();
  const captured = new Set<string>();
  for (const { name, scopes } of used) {
    if (globals.has(name) || guarded.has(name) || scopes.some((scope) => declared.get(scope)?.has(name))) continue;
    captured.add(name);
  }
  return [...captured];
}

/** The node whose scope a binding identifier declares its name in; undefined when it is an assignment target. */
function bindingScope(owner: AnyNode, id: Identifier, above: AnyNode[]): AnyNode | undefined {
  switch (owner.type) {
    case 'VariableDeclarator':
      return nearest(above, (above[above.length - 1] as VariableDeclaration).kind === 'var' ? HOISTS_TO : BLOCKS);
    case 'FunctionDeclaration':
      // Its name belongs to the enclosing function (declarations in blocks are hoisted there in sloppy code).
      return owner.id === id ? nearest(above, HOISTS_TO) : owner;
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
    case 'CatchClause':
    case 'ClassExpression':
      return owner;
    case 'ClassDeclaration':
      return nearest(above, BLOCKS);
    default:
      return undefined;
  }
}

function nearest(ancestors: AnyNode[], kinds: Set<string>): AnyNode | undefined {
  return ancestors.findLast((node) => kinds.has(node.type));
}

let globalNames: Set<string> | undefined;

/**
 * Names a shipped function may use without declaring them: the globals of this process
 * (worker threads have the same), with their prototype chain (`toString`), `arguments`,
 * the `__name` helper bundlers inject, and web globals newer Node versions add.
 */
function workerGlobals(): Set<string> {
  if (!globalNames) {
    globalNames = new Set(['arguments', '__name', 'navigator', 'Navigator', 'WebSocket', 'CloseEvent', 'Iterator', 'localStorage', 'sessionStorage', 'Storage']);
    for (let scope: object | null = globalThis; scope; scope = Object.getPrototypeOf(scope) as object | null) {
      for (const name of Object.getOwnPropertyNames(scope)) globalNames.add(name);
    }
  }
  return globalNames;
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
