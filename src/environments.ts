import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ENV_NAME = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * `ks start --env NAME=DIR` (repeatable): named npm environments a node offers its tasks
 * (issue 11). DIR must be an installed npm project: a package.json and a node_modules folder.
 * Throws a one-line error otherwise.
 */
export function parseEnvFlags(values: readonly string[]): Record<string, string> {
  const envs: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw new Error(`--env ${value}: expected NAME=DIR (for example --env ml=/opt/envs/ml)`);
    const name = value.slice(0, at);
    const dir = resolve(value.slice(at + 1));
    if (!ENV_NAME.test(name)) throw new Error(`--env ${value}: the name ${JSON.stringify(name)} is not allowed: use 1 to 100 letters, digits, '-' or '_'`);
    if (name in envs) throw new Error(`--env ${value}: environment ${name} is given twice`);
    if (!isFile(join(dir, 'package.json'))) throw new Error(`--env ${value}: ${dir} is not an npm project (it has no package.json)`);
    if (!isDirectory(join(dir, 'node_modules'))) throw new Error(`--env ${value}: ${dir} has no node_modules: run npm install there first`);
    envs[name] = dir;
  }
  return envs;
}

/** Imports a package the way code in `dir` would: resolved from `dir`'s node_modules. */
export function importFrom(dir: string): (specifier: string) => Promise<unknown> {
  const require = createRequire(join(dir, 'package.json'));
  return async (specifier) => {
    if (specifier.startsWith('node:')) return import(specifier);
    let resolved: string;
    try {
      resolved = require.resolve(specifier);
    } catch (error) {
      // An ESM-only package exports no `require` entry: take its `import` entry.
      const esm = (error as { code?: string }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' ? esmEntry(dir, specifier) : undefined;
      if (!esm) throw Object.assign(new Error(`cannot find package ${JSON.stringify(specifier)} in environment ${dir}: ${(error as Error).message.split('\n')[0]}`), { code: 'ERR_MODULE_NOT_FOUND' });
      resolved = esm;
    }
    // A builtin without the node: prefix resolves to its own name.
    return resolved.startsWith('/') ? import(pathToFileURL(resolved).href) : import(resolved);
  };
}

/** The `import` entry of a bare package name's `exports` (no subpaths), or undefined. */
function esmEntry(dir: string, specifier: string): string | undefined {
  if (!/^(@[^/]+\/)?[^/@][^/]*$/.test(specifier)) return undefined;
  const pkgDir = join(dir, 'node_modules', specifier);
  try {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { exports?: unknown };
    let entry: unknown = pkg.exports;
    if (entry && typeof entry === 'object' && '.' in entry) entry = (entry as Record<string, unknown>)['.'];
    while (entry && typeof entry === 'object') {
      const conditions = entry as Record<string, unknown>;
      entry = conditions.import ?? conditions.node ?? conditions.default;
    }
    return typeof entry === 'string' ? join(pkgDir, entry) : undefined;
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
