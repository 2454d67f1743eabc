/** A module of registered functions: `ks start --datadir ./ks-data --module dist/examples/functions.js`. */
export function parse(line: string): Record<string, string> {
  return Object.fromEntries(line.split(';').map((pair) => pair.split('=') as [string, string]));
}

export async function slowDouble(x: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 100));
  return 2 * x;
}
