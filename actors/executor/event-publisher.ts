import { encode } from '../../src/codec.js';
import type { Bus } from '../../src/bus.js';
import { batchOfJob } from '../../src/ids.js';
import type { WireJobEvent } from '../../src/protocol.js';

/** NATS payloads stay well under the server's default 1 MB limit. */
const MAX_FRAME_BYTES = 512 * 1024;

/**
 * Coalesces job events per batch and publishes them once per turn of the event loop on
 * `ks.ev.<batch>`: one NATS message carries many events.
 */
export class EventPublisher {
  private pending = new Map<string, { events: WireJobEvent[]; bytes: number }>();
  private scheduled = false;

  constructor(private readonly bus: Bus) {}

  add(event: WireJobEvent, approxBytes = 64): void {
    const batch = batchOfJob(event.id);
    let entry = this.pending.get(batch);
    if (!entry) {
      entry = { events: [], bytes: 0 };
      this.pending.set(batch, entry);
    }
    if (entry.bytes + approxBytes > MAX_FRAME_BYTES && entry.events.length > 0) {
      this.publish(batch, entry.events);
      entry.events = [];
      entry.bytes = 0;
    }
    entry.events.push(event);
    entry.bytes += approxBytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [batch, entry] of pending) this.publish(batch, entry.events);
  }

  private publish(batch: string, events: WireJobEvent[]): void {
    this.bus.publish(this.bus.subject('ks', 'ev', batch), encode(events));
  }
}
