import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { svgBarChart } from '../lib/svg-bar-chart.js';
import { DriverProcess } from './driver-process.js';
import { cpuWorkloads, rotate, WORKLOADS, type RunResult } from './figures.js';
import { chartSpec, markdownTable, RATIO_NOTE, summarize, tableRows, type Collected, type SystemSummary } from './summary.js';
import { PYTHON, SYSTEMS, UNAVAILABLE, type SystemSpec } from './systems.js';

/**
 * `npm run bench:peers`: the same workloads on kitchensink and on every peer installable here,
 * in one run, each workload's repetitions rotating the order of systems so that machine drift
 * hits everyone alike. Writes benchmarks/results/peers.{json,svg,md}.
 * Options: --reps N (default 3), --systems id,id (default all).
 */
const { values: options } = parseArgs({
  options: { reps: { type: 'string', default: '3' }, systems: { type: 'string' } },
});
const REPS = Number(options.reps);
const RESULTS = new URL('../../../benchmarks/results/', import.meta.url);
const SETUP = new URL('../../../benchmarks/peers/setup.sh', import.meta.url).pathname;

function log(line: string): void {
  console.log(line);
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const python = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' });
  return {
    nproc: availableParallelism(),
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    node: process.version,
    python: python.status === 0 ? `${python.stdout.trim()} (${PYTHON})` : 'none',
  };
}

const started: Array<{ spec: SystemSpec; driver: DriverProcess }> = [];

async function stopAll(): Promise<void> {
  for (const { spec, driver } of started.splice(0)) {
    const killed = await driver.stop();
    if (killed.length > 0) {
      log(`${spec.name}: killed ${killed.length} leftover process(es) by pid: ${killed.map((p) => `${p.pid} (${p.command})`).join(', ')}`);
    } else {
      log(`${spec.name}: all ${driver.processCount} processes it started are gone`);
    }
  }
}

process.once('SIGINT', () => {
  void stopAll().then(() => process.exit(130));
});

const t0 = Date.now();
const loadBefore = loadavg();
log(`peers benchmark: ${REPS} repetitions per workload, order of systems rotated each repetition`);
spawnSync('bash', [SETUP], { stdio: 'inherit' });

const wanted = options.systems ? new Set(options.systems.split(',')) : undefined;
const summaries: SystemSummary[] = [];
for (const peer of UNAVAILABLE) log(`skipping ${peer.name}: ${peer.reason}`);
for (const spec of SYSTEMS) {
  const summary: SystemSummary = { id: spec.id, name: spec.name, color: spec.color };
  summaries.push(summary);
  if (wanted && !wanted.has(spec.id)) {
    summary.skipped = 'not selected (--systems)';
    continue;
  }
  summary.skipped = spec.skipReason();
  if (summary.skipped) {
    log(`skipping ${spec.name}: ${summary.skipped}`);
    continue;
  }
  const startedAt = Date.now();
  const driver = new DriverProcess(spec.name, spec.command, spec.args, spec.env);
  started.push({ spec, driver });
  try {
    const ready = await driver.ready();
    summary.version = ready.version;
    log(`${spec.name} ${ready.version}: up and warm in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  } catch (error) {
    summary.skipped = `failed to start: ${(error as Error).message.split('\n')[0]}`;
    log(`skipping ${spec.name}: ${(error as Error).message}`);
  }
}
const running = started.filter(({ spec }) => !summaries.find((s) => s.id === spec.id)!.skipped);

// All systems stay up for the whole run; what an idle one costs the one being measured:
const IDLE_WINDOW_S = 5;
const idleBefore = running.map(({ driver }) => driver.cpuSeconds());
await new Promise((r) => setTimeout(r, IDLE_WINDOW_S * 1000));
const idleCpu: Record<string, number> = {};
running.forEach(({ spec, driver }, i) => {
  idleCpu[spec.id] = (driver.cpuSeconds() - idleBefore[i]) / IDLE_WINDOW_S;
});
log(`idle CPU while waiting (share of one core): ${running.map(({ spec }) => `${spec.name} ${(idleCpu[spec.id] * 100).toFixed(1)}%`).join(', ')}`);

const collected: Collected = { runs: {}, errors: {} };
try {
  for (const workload of WORKLOADS) {
    const systems = running.filter(({ spec }) => !workload.only || workload.only.includes(spec.id));
    const runs: Record<string, RunResult[]> = (collected.runs[workload.id] = {});
    const errors: Record<string, string> = (collected.errors[workload.id] = {});
    for (const { spec, driver } of systems) {
      try {
        await driver.run(workload.id, workload.warmup);
      } catch (error) {
        errors[spec.id] = (error as Error).message;
      }
    }
    for (let rep = 0; rep < REPS; rep++) {
      for (const { spec, driver } of rotate(systems, rep)) {
        if (errors[spec.id] || runs[spec.id]?.some((r) => r.na !== undefined)) continue; // n/a once is n/a
        try {
          const cpuBefore = driver.cpuSeconds();
          const result = await driver.run(workload.id, workload.params);
          result.cpu = driver.cpuSeconds() - cpuBefore;
          (runs[spec.id] ??= []).push(result);
          log(`${workload.label} · ${spec.name} · rep ${rep + 1}: ${JSON.stringify(result)}`);
        } catch (error) {
          errors[spec.id] = (error as Error).message;
          log(`${workload.label} · ${spec.name}: ${errors[spec.id]}`);
        }
      }
    }
  }
} finally {
  await stopAll();
}

const figures = summarize(WORKLOADS, summaries, collected);
const cpuFigures = summarize(cpuWorkloads(WORKLOADS), summaries, collected);
const info = machine();
const date = new Date().toISOString();
const loadAfter = loadavg();
const subtitle = `${date.slice(0, 10)} · ${info.nproc} × ${info.cpu} · Node ${info.node.slice(1)} · ${info.python.split(' (')[0]} · median of ${REPS} · load average ${loadBefore[0].toFixed(1)} → ${loadAfter[0].toFixed(1)}`;

const { head, rows } = tableRows(figures, summaries);
const table = new Table({ head, style: { head: [], border: [] } });
table.push(...rows);
log(`\n${table.toString()}`);
log(RATIO_NOTE);
const cpuTable = new Table({ head: tableRows(cpuFigures, summaries).head, style: { head: [], border: [] } });
cpuTable.push(...tableRows(cpuFigures, summaries).rows);
log(`\nCPU seconds used by all of a system's processes during each workload (median):\n${cpuTable.toString()}`);
for (const s of summaries.filter((s) => s.skipped)) log(`${s.name}: skipped (${s.skipped})`);
for (const peer of UNAVAILABLE) log(`${peer.name}: skipped (${peer.reason})`);

mkdirSync(RESULTS, { recursive: true });
const markdown =
  `${markdownTable(figures, summaries)}\n\n${RATIO_NOTE}\n\n` +
  `CPU seconds used by all of a system's processes (client, servers, workers) during each workload, median:\n\n` +
  `${markdownTable(cpuFigures, summaries)}\n`;
writeFileSync(new URL('peers.md', RESULTS), markdown);
writeFileSync(new URL('peers.svg', RESULTS), svgBarChart(chartSpec(figures, summaries, subtitle)));
writeFileSync(
  new URL('peers.json', RESULTS),
  `${JSON.stringify(
    {
      benchmark: 'peers',
      command: 'npm run bench:peers',
      date,
      machine: { ...info, loadavgBefore: loadBefore, loadavgAfter: loadAfter },
      repetitions: REPS,
      idleCpuShareOfOneCore: idleCpu,
      systems: [...summaries, ...UNAVAILABLE.map((p) => ({ id: p.id, name: p.name, skipped: p.reason }))],
      workloads: WORKLOADS.map(({ id, label, params, only }) => ({ id, label, params, only })),
      figures,
      cpuFigures,
      errors: collected.errors,
      ratioNote: RATIO_NOTE,
      seconds: Math.round((Date.now() - t0) / 1000),
    },
    null,
    2,
  )}\n`,
);
log(`wrote benchmarks/results/peers.json, peers.svg and peers.md in ${Math.round((Date.now() - t0) / 1000)} s (load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')})`);
