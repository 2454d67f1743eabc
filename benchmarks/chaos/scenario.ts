import type { ChaosCluster, ChaosClusterOptions } from './cluster.js';
import type { Client } from '../../index.js';
import type { Features } from './features.js';
import type { Workload } from './workload.js';

/** What a scenario gets: its cluster, its workload (with the client), its size and its deadline. */
export interface ScenarioContext {
  cluster: ChaosCluster;
  workload: Workload;
  client: Client;
  jobs: number;
  features: Features;
  /** aborts when the scenario's time limit is reached */
  signal: AbortSignal;
  /** the scenario's recovery figure: ms, and what it measures */
  recovered(ms: number | undefined, what: string): void;
  /** a fact for the report (`running at SIGTERM: 2, finished there: 2`) */
  note(text: string): void;
  /** a promise of the scenario that did not hold (beyond the generic counts) */
  violation(text: string): void;
}

export interface Scenario {
  /** short id for `--scenarios` */
  name: string;
  /** the fault, in a few words, for the table */
  title: string;
  /** what must hold, for the report */
  expect: string;
  limitMs: number;
  cluster?: (features: Features, jobs: number) => ChaosClusterOptions;
  /** client options (e.g. requestTimeoutMs); `urls`: give the client every node's url */
  client?: { requestTimeoutMs?: number; urls?: 'all' };
  /** false: the scenario collects results itself (with br()) */
  collect?: boolean;
  /** a reason this build cannot run the scenario, or undefined */
  unsupported?: (features: Features) => string | undefined;
  run(ctx: ScenarioContext): Promise<void>;
}
