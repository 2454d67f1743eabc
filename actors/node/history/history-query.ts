import type { JobFilter, JobHistoryEntry } from '../../../src/job-history.js';
import { parseHostQueue } from '../../../src/store/keys.js';
import type { Store } from '../../../src/store/store.js';
import { decodeEntry } from './history-entry-codec.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
/** Entries read from Redis per round while filtering. */
const PAGE = 500;
/** A filter looks at this many entries at most, however few match. */
const MAX_SCANNED = 200_000;

/** Reads the cluster's job history (written by HistoryRecorder through recordHistory.lua). */
export class HistoryQuery {
  constructor(private readonly store: Store) {}

  async get(id: string): Promise<JobHistoryEntry | undefined> {
    const bytes = await this.store.history.entry(id);
    return bytes ? decodeEntry(id, bytes) : undefined;
  }

  /** Newest first. */
  async list(filter: JobFilter): Promise<JobHistoryEntry[]> {
    const limit = Math.min(MAX_LIMIT, Math.max(1, filter.limit ?? DEFAULT_LIMIT));
    const min = filter.since === undefined ? '-inf' : String(filter.since);
    const search = filter.search?.toLowerCase();
    const found: JobHistoryEntry[] = [];
    for (let offset = 0; found.length < limit && offset < MAX_SCANNED; offset += PAGE) {
      const ids = await this.store.history.newest(filter.failed === true, min, offset, PAGE);
      if (ids.length === 0) break;
      const entries = await this.store.history.entries(ids);
      for (let i = 0; i < entries.length; i++) {
        const bytes = entries[i];
        if (!bytes) continue; // trimmed meanwhile
        const entry = decodeEntry(ids[i], bytes);
        if (matches(entry, filter, search)) found.push(entry);
        if (found.length === limit) break;
      }
      if (ids.length < PAGE) break;
    }
    return found;
  }

  size(): Promise<{ entries: number; bytes: number }> {
    return this.store.history.size();
  }
}

function matches(entry: JobHistoryEntry, filter: JobFilter, search: string | undefined): boolean {
  if (filter.node && entry.node !== filter.node) return false;
  if (filter.queue && entry.queue !== filter.queue && parseHostQueue(entry.queue)?.queue !== filter.queue) return false;
  if (search) {
    const text = `${entry.id}\n${entry.fn}\n${entry.queue}\n${entry.node}\n${entry.error?.name ?? ''}: ${entry.error?.message ?? ''}\n${entry.error?.stack ?? ''}\n${entry.output}`;
    if (!text.toLowerCase().includes(search)) return false;
  }
  return true;
}
