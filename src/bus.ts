import { connect, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { redactUrl } from './credentials.js';
import { runtimeLog } from './log.js';
import { natsConnectOptions, type NatsAccess } from './nats-options.js';

const CONNECT_TIMEOUT_MS = 20_000;

export type BusHandler = (data: Uint8Array, subject: string) => void;

export interface BusSubscription {
  unsubscribe(): void;
}

interface LocalSub {
  tokens: string[];
  handler: BusHandler;
}

/**
 * The NATS bus. Publishing delivers to this process's own subscribers directly (no round
 * trip through the server) and to every other process through NATS; the connection is
 * opened with `noEcho` so the server never sends our own messages back.
 * NATS only notifies: every consumer has a Redis fallback, so a lost message only delays.
 */
export class Bus {
  private readonly local = new Set<LocalSub>();
  private readonly receivers = new Map<string, (value: unknown) => void>();

  private constructor(private readonly nc: NatsConnection, readonly subjectPrefix: string) {}

  /** `url`: one NATS url or a comma-separated list (a NATS cluster), with credentials if any. */
  static async connect(url: string, options: { name: string; prefix?: string } & NatsAccess): Promise<Bus> {
    const nc = await connect({
      ...natsConnectOptions(url, options),
      name: options.name,
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // The whole handshake; several nodes starting at once on a busy machine can need seconds.
      timeout: CONNECT_TIMEOUT_MS,
    }).catch((error: Error) => {
      throw new Error(`could not connect to NATS at ${redactUrl(url)} within ${CONNECT_TIMEOUT_MS / 1000} s: ${error.message}`);
    });
    return new Bus(nc, options.prefix ? `${options.prefix}.` : '');
  }

  subject(...tokens: string[]): string {
    return this.subjectPrefix + tokens.join('.');
  }

  /**
   * Never throws: a message NATS refuses (too large, connection closed) is reported and
   * dropped, as a lost message would be; every consumer falls back to Redis.
   */
  publish(subject: string, data: Uint8Array): void {
    this.publishLocal(subject, data);
    try {
      this.nc.publish(subject, data);
    } catch (error) {
      runtimeLog().warn({ subject, bytes: data.byteLength, err: error }, `NATS publish on ${subject} (${data.byteLength} bytes) failed`);
    }
  }

  /** Delivers to this process's subscribers only. */
  publishLocal(subject: string, data: Uint8Array): void {
    for (const sub of this.local) {
      if (matches(sub.tokens, subject)) deliverLater(sub.handler, data, subject);
    }
  }

  /**
   * Receives values (not bytes) sent with `deliverLocally` on a subject that only this process
   * listens to (a node's own event subject): no encoding, no NATS. One receiver per subject.
   */
  receiveLocally<T>(subject: string, handler: (value: T) => void): BusSubscription {
    this.receivers.set(subject, handler as (value: unknown) => void);
    return {
      unsubscribe: () => {
        if (this.receivers.get(subject) === handler) this.receivers.delete(subject);
      },
    };
  }

  /**
   * Hands `value` to this process's receiver of `subject` (in a microtask, like a local
   * publish) and returns true; false when there is none (then publish it as bytes).
   */
  deliverLocally(subject: string, value: unknown): boolean {
    const handler = this.receivers.get(subject);
    if (!handler) return false;
    deliverLater(handler, value, subject);
    return true;
  }

  subscribe(subject: string, handler: BusHandler): BusSubscription {
    const local: LocalSub = { tokens: subject.split('.'), handler };
    this.local.add(local);
    const remote: NatsSubscription = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) handler(msg.data, msg.subject);
      },
    });
    return {
      unsubscribe: () => {
        this.local.delete(local);
        remote.unsubscribe();
      },
    };
  }

  /** The connection's status changes (disconnect, reconnect...), for the node's connection watch. */
  status(): AsyncIterable<{ type: string }> {
    return this.nc.status();
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  async close(): Promise<void> {
    this.local.clear();
    this.receivers.clear();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}

function deliverLater<T>(handler: (data: T, subject: string) => void, data: T, subject: string): void {
  queueMicrotask(() => {
    try {
      handler(data, subject);
    } catch (error) {
      runtimeLog().error({ subject, err: error }, 'a bus handler failed');
    }
  });
}

/** NATS subject matching: `*` is one token, `>` the rest. */
export function matches(pattern: string[], subject: string): boolean {
  const tokens = subject.split('.');
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '>') return tokens.length > i;
    if (i >= tokens.length) return false;
    if (p !== '*' && p !== tokens[i]) return false;
  }
  return tokens.length === pattern.length;
}
