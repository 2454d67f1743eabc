import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The systems compared, how each driver is launched, and why one would be skipped. */
export const PYTHON = '/usr/bin/python3';
const PEERS_SRC = new URL('../../../benchmarks/peers/', import.meta.url).pathname;
const DRIVERS_JS = new URL('./', import.meta.url).pathname;

export interface SystemSpec {
  id: string;
  name: string;
  color: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** why it cannot run here, or undefined when it can */
  skipReason(): string | undefined;
}

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function pythonHas(module: string): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

function pythonPeer(id: string, name: string, color: string, module: string, debianPackage: string): SystemSpec {
  return {
    id,
    name,
    color,
    command: PYTHON,
    args: [`${PEERS_SRC}${id}_driver.py`],
    env: { PYTHONPATH: PEERS_SRC, PYTHONDONTWRITEBYTECODE: '1' },
    skipReason: () => {
      if (!pythonHas(module)) return `${debianPackage} is not installed (benchmarks/peers/setup.sh installs it when run as root)`;
      if (id === 'rq' && !commandExists('redis-server')) return 'redis-server is not installed';
      return undefined;
    },
  };
}

export const SYSTEMS: SystemSpec[] = [
  {
    id: 'kitchensink',
    name: 'kitchensink',
    color: '#d9480f',
    command: process.execPath,
    args: [`${DRIVERS_JS}kitchensink.js`],
    skipReason: () => undefined,
  },
  {
    id: 'bullmq',
    name: 'BullMQ',
    color: '#1971c2',
    command: process.execPath,
    args: [`${DRIVERS_JS}bullmq.js`],
    skipReason: () => {
      if (!existsSync(new URL('../../../node_modules/bullmq/package.json', import.meta.url))) return 'bullmq is not installed (npm install)';
      if (!commandExists('redis-server')) return 'redis-server is not installed';
      return undefined;
    },
  },
  pythonPeer('rq', 'python-rq', '#2f9e44', 'rq', 'python3-rq'),
  pythonPeer('dask', 'Dask distributed', '#7048e8', 'distributed', 'python3-distributed'),
  pythonPeer('ipyparallel', 'ipyparallel', '#0c8599', 'ipyparallel', 'python3-ipyparallel'),
];

/**
 * Peers our users would otherwise pick that this project does not benchmark: it installs its
 * peers only from Debian's apt and npm, the registries its machines are given.
 */
export const UNAVAILABLE = [
  { id: 'ray', name: 'Ray', reason: 'not benchmarked: Ray has no Debian package, and this project installs its peers only from Debian apt and npm' },
];
