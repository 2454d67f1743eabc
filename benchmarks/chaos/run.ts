/**
 * `npm run chaos`: the fault scenarios of issue 9, each on a fresh cluster of three nodes
 * (loopback, temp dirs) sharing an external redis-server (AOF `appendfsync always`, DEBUG
 * enabled) and a nats-server. Each scenario submits thousands of jobs whose task appends its
 * token to a ledger file, hurts one process for real, and counts: ids returned by execute(),
 * results received, jobs that ran (the ledger), lost, run or delivered twice, calls of failed
 * submits that ran all the same, jobs left queued/running in Redis, errors by code, and the
 * time to recover. Prints a table and writes benchmarks/results/chaos.json.
 *
 *   npm run chaos -- --scenarios redis-sleep,node-kill9 --jobs 500
 *
 * A scenario needing an API this build lacks reports `n/a`; one over its time limit reports
 * `timed out` with what it counted. Every process started is stopped by pid, also on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { detectFeatures } from './features.js';
import { installEmergencyCleanup } from './owned-processes.js';
import { printReport, writeReport } from './report.js';
import { runScenario, type ScenarioResult } from './run-scenario.js';
import { scenarios } from './scenarios.js';

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    jobs: { type: 'string', default: '3000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run chaos -- [--scenarios ${scenarios.map((s) => s.name).join(',')}] [--jobs N (per scenario, default 3000)]`);
  process.exit(0);
}
const jobs = Number(values.jobs);
if (!Number.isInteger(jobs) || jobs < 20) throw new Error(`--jobs must be an integer of at least 20, not ${values.jobs}`);
const wanted = values.scenarios ? values.scenarios.split(',').map((s) => s.trim()).filter(Boolean) : scenarios.map((s) => s.name);
const unknown = wanted.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);

installEmergencyCleanup();
const features = detectFeatures();
console.log(`features of this build: ${JSON.stringify(features)}; ${jobs} jobs per scenario`);
const results: ScenarioResult[] = [];
for (const scenario of scenarios.filter((s) => wanted.includes(s.name))) {
  process.stdout.write(`${scenario.name}: ${scenario.title} ... `);
  const result = await runScenario(scenario, jobs, features);
  results.push(result);
  console.log(`${result.status} (${result.seconds} s)`);
}
printReport(results);
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
console.log(`wrote ${writeReport(results, { jobs, features, commit })}`);
// Every process is stopped by now; idle keep-alive sockets and timers of hurt connections
// must not keep the script alive. Exit 1 only when the script itself failed in a scenario.
process.exit(results.some((r) => r.status === 'error') ? 1 : 0);
