import { encode } from '../../src/codec.js';
import type { Bus } from '../../src/bus.js';
import type { WireJobEvent } from '../../src/protocol.js';
import { eventSubject } from '../../src/subjects.js';

/** NATS payloads stay well under the server's default 1 MB limit. */
const MAX_FRAME_BYTES = 512 * 1024;


/**
 * Coalesces job events per head node and publishes them once per turn of the event loop on
 * `ks.ev.<head>`: one NATS message carries many events, and each node needs one subscription.
 * Events for this process's own head node (the usual single-node case) are handed to its
 * trackers as they are: not encoded, not sent through NATS.
 */
export class EventPublisher {
  private pending = new Map<string, { events: WireJobEvent[]; bytes: number }>();
  private scheduled = false;

  constructor(private readonly bus: Bus) {}

  add(head: string, event: WireJobEvent, approxBytes = 64): void {
    let entry = this.pending.get(head);
    if (!entry) {
      entry = { events: [], bytes: 0 };
      this.pending.set(head, entry);
    }
    if (entry.bytes + approxBytes > MAX_FRAME_BYTES && entry.events.length > 0) {
      this.publish(head, entry.events);
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

  /**
   * Publishes one event to this process's subscribers only (jobs that never left this node).
   * Events still pending for that head (the job's last output) are published first.
   */
  publishLocal(head: string, event: WireJobEvent): void {
    const entry = this.pending.get(head);
    if (entry) {
      this.pending.delete(head);
      this.publish(head, entry.events);
    }
    const subject = eventSubject(this.bus, head);
    if (!this.bus.deliverLocally(subject, [event])) this.bus.publishLocal(subject, encode([event]));
  }

  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [head, entry] of pending) this.publish(head, entry.events);
  }

  private publish(head: string, events: WireJobEvent[]): void {
    const subject = eventSubject(this.bus, head);
    if (!this.bus.deliverLocally(subject, events)) this.bus.publish(subject, encode(events));
  }
}
