/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line
 * must be a `# HELP`/`# TYPE` comment or a sample `name{label="value",...} number`, else it
 * throws (npm's parse-prometheus-text-format has not been released since 2018).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** metric family name → its # TYPE */
  types: Map<string, string>;
  /** the sum of the samples named `name` whose labels include every label in `match` (0 when none) */
  sum(name: string, match?: Record<string, string>): number;
  /** the samples named `name` matching `match` */
  find(name: string, match?: Record<string, string>): Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types.set(type[1], type[2]);
      else if (!/^# HELP \S+ /.test(line) && !/^# HELP \S+$/.test(line)) throw new Error(`not a HELP or TYPE line: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (!label) throw new Error(`bad labels in: ${line}`);
      labels[label[1]] = label[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3];
    // Prometheus reads NaN and Inf case-insensitively (Go's ParseFloat); prom-client writes `Nan`.
    const special = raw.toLowerCase();
    const isNaN = special === 'nan';
    const value = special === '+inf' || special === 'inf' ? Infinity : special === '-inf' ? -Infinity : isNaN ? NaN : Number(raw);
    if (Number.isNaN(value) && !isNaN) throw new Error(`bad value in: ${line}`);
    samples.push({ name: match[1], labels, value });
  }
  const matches = (sample: Sample, name: string, match: Record<string, string>) =>
    sample.name === name && Object.entries(match).every(([k, v]) => sample.labels[k] === v);
  return {
    samples,
    types,
    find: (name, match = {}) => samples.filter((s) => matches(s, name, match)),
    sum: (name, match = {}) => samples.filter((s) => matches(s, name, match)).reduce((total, s) => total + s.value, 0),
  };
}
