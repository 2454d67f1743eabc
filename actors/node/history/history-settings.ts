import type { HistoryLimits } from '../../../src/job-history.js';
import type { Logger } from '../../../src/log.js';
import type { Store } from '../../../src/store/store.js';

const FLAGS: Record<keyof HistoryLimits, string> = { ttlMs: '--history-ttl', maxEntries: '--history-max', maxBytes: '--history-bytes' };

/**
 * The cluster's history limits: the first node to start writes its own into `hist:cfg`
 * (HSETNX), every later node uses those and warns when it was started with other values.
 */
export async function clusterHistoryLimits(store: Store, mine: HistoryLimits, log: Logger): Promise<HistoryLimits> {
  const stored = await store.history.settle(mine);
  const names = Object.keys(FLAGS) as (keyof HistoryLimits)[];
  const limits = { ...mine };
  names.forEach((name) => {
    const value = stored[name];
    if (value === null) return;
    if (value !== mine[name]) {
      log.warn({ flag: FLAGS[name], given: mine[name], cluster: value }, `${FLAGS[name]} ${mine[name]} differs from the cluster's ${value} (set by its first node): using the cluster's`);
    }
    limits[name] = value;
  });
  return limits;
}
