import { createHash } from 'node:crypto';

/** A function as the wire knows it: shipped (source + sha256) or registered (a name). */
export type FunctionRef =
  | { registered: false; key: string; name: string; source: string }
  | { registered: true; key: string; name: string };

export type Callable = ((...args: never[]) => unknown) | string;

const cache = new WeakMap<object, FunctionRef>();

export function functionRef(fn: Callable): FunctionRef {
  if (typeof fn === 'string') {
    if (!fn) throw new TypeError('a registered function name must not be empty');
    return { registered: true, key: fn, name: fn };
  }
  if (typeof fn !== 'function') throw new TypeError(`expected a function or a registered function's name, got ${typeof fn}`);
  let ref = cache.get(fn);
  if (!ref) {
    const source = Function.prototype.toString.call(fn);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new TypeError(`function ${fn.name || '(anonymous)'} cannot be shipped: it is native or bound; ship a plain function instead`);
    }
    if (/^class[\s{]/.test(source)) throw new TypeError(`${fn.name || 'this class'} is a class; ship a function`);
    ref = { registered: false, key: createHash('sha256').update(source).digest('hex'), name: fn.name, source };
    cache.set(fn, ref);
  }
  return ref;
}
