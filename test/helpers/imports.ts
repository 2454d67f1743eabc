/**
 * The import graph of the project's TypeScript sources, read with the TypeScript compiler's
 * parser (no type-checking): what test/layering.test.ts checks the layers and loops on.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface Import {
  /** the importing file, relative to the root, with `/` separators */
  from: string;
  /** the imported file, relative to the root (`.ts`), or the bare specifier of a package */
  to: string;
  /** `import type` / `export type`: gone at run time, so it closes no loop */
  typeOnly: boolean;
}

/** Every `.ts` file under the given folders (and files) of `root`, relative to it. */
export function sourceFiles(root: string, entries: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) {
      out.push(relative(root, path).split(sep).join('/'));
    }
  };
  for (const entry of entries) walk(join(root, entry));
  return out.sort();
}

/** The static imports, re-exports and literal `import()`s of each file. */
export function importsOf(root: string, files: readonly string[]): Import[] {
  const out: Import[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const add = (specifier: string, typeOnly: boolean): void => {
      const to = specifier.startsWith('.')
        ? relative(root, resolve(root, dirname(file), specifier)).split(sep).join('/').replace(/\.js$/, '.ts')
        : specifier;
      out.push({ from: file, to, typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        const clause = node.importClause;
        const typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && clause.namedBindings !== undefined
          && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0
          && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
        add(node.moduleSpecifier.text, typeOnly);
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        const typeOnly = node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause)
          && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
        add(node.moduleSpecifier.text, typeOnly);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const [argument] = node.arguments;
        if (argument && ts.isStringLiteralLike(argument)) add(argument.text, false);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

/** A rule: files under `layer` import nothing under any of `forbidden` (folders, or files). */
export interface LayerRule {
  layer: string;
  forbidden: readonly string[];
}

const under = (path: string, folderOrFile: string): boolean =>
  path === folderOrFile || path.startsWith(folderOrFile.endsWith('/') ? folderOrFile : `${folderOrFile}/`);

/** Each import that breaks a rule, as `from → to`. */
export function layerViolations(imports: readonly Import[], rules: readonly LayerRule[]): string[] {
  const broken: string[] = [];
  for (const { from, to } of imports) {
    for (const rule of rules) {
      if (under(from, rule.layer) && rule.forbidden.some((f) => under(to, f))) broken.push(`${from} → ${to}`);
    }
  }
  return broken;
}

/** The import loops among the files (run-time imports only), each as `a → b → ... → a`. */
export function importCycles(imports: readonly Import[]): string[] {
  const edges = new Map<string, string[]>();
  for (const { from, to, typeOnly } of imports) {
    if (typeOnly || !to.endsWith('.ts')) continue;
    edges.set(from, [...(edges.get(from) ?? []), to]);
  }
  // Tarjan's strongly connected components: every component of more than one file (or a
  // file importing itself) is a loop.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const connect = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (edges.get(file) ?? []).includes(file)) cycles.push([...component.reverse(), component[0]].join(' → '));
  };
  for (const file of [...edges.keys()].sort()) if (!index.has(file)) connect(file);
  return cycles;
}
