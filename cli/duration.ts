const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** `10m`, `90s`, `2h`, `1d`, `500ms` (a bare number is ms) → ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`${JSON.stringify(text)} is not a duration: use e.g. 500ms, 90s, 10m, 2h, 1d`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']);
}
