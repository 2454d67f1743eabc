import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodeEventFrame, encodeFrame } from '../../src/frames.js';
import { GIVE_UP_HEADER, KEEPALIVE_HEADER, type JobEvent, type MissingJobEvent } from '../../src/protocol.js';
import type { BatchTracker, EventSink } from './batch-tracker.js';

export const EVENT_STREAM = 'application/x-ks-events';

/** One tracker's part of a stream: the ids of its batch the stream waits for. */
export interface StreamPart {
  tracker: BatchTracker;
  ids: readonly string[];
}

export interface StreamOptions {
  /** a first frame written before any events (`/rpc/call`'s `{ batch, ids }`) */
  head?: unknown;
  /** events known at once, written first (`/rpc/results`' missing jobs) */
  preface?: MissingJobEvent[];
}

const HEAD_FLUSH_MS = 5;
/** Parts smaller than this are joined before writing; larger ones are written as they are. */
const JOIN_BELOW_BYTES = 16 * 1024;
/** Keep-alive after this much silence when the client names no interval (old clients). */
const DEFAULT_KEEPALIVE_MS = 5000;
const MIN_KEEPALIVE_MS = 100;
const MAX_KEEPALIVE_MS = 60_000;
/** An empty array of events: every client's frame loop skips it. */
const KEEPALIVE_FRAME = encodeFrame([]);

/**
 * Streams length-prefixed CBOR frames of events until every id of every part has an outcome.
 * Frames produced in one turn are written together, without copying large results into them
 * (small parts are joined, large ones written as they are, in one writev); a stream that
 * completes at once (a fast call) is answered as one plain response, not a chunked one.
 * After the client's keep-alive interval of silence (header `x-ks-keepalive-ms`, else 5 s)
 * an empty frame is written, so a client times out on a silent node, never on a long job.
 * A tracker learns through `send`'s callback whether its events reached the socket: only
 * those count as delivered. Two guards keep a node that was frozen (SIGSTOP, a long pause)
 * from handing outcomes to a connection its client has abandoned: trackers are attached one
 * event-loop phase later, after a client's close that was waiting in the socket is seen; and
 * a stream silent for longer than the client's timeout (header `x-ks-timeout-ms`) is closed
 * instead of written to, its outcomes kept for the client's next request anywhere.
 */
export function streamEvents(request: FastifyRequest, reply: FastifyReply, parts: readonly StreamPart[], options: StreamOptions = {}): void {
  reply.hijack();
  const res = reply.raw;
  let held: Uint8Array[] = options.head === undefined ? [] : [encodeFrame(options.head)];
  let heldCallbacks: ((ok: boolean) => void)[] = [];
  let started = false;
  let ended = false;
  let flushQueued = false;
  let lastWriteAt = Date.now();
  let open = parts.length;
  const keepAliveMs = keepAliveInterval(request.headers[KEEPALIVE_HEADER]);
  const giveUpMs = positiveMs(request.headers[GIVE_UP_HEADER]);
  /** the client stopped waiting: it heard nothing for longer than its timeout */
  const abandoned = () => giveUpMs !== undefined && Date.now() - lastWriteAt > giveUpMs;

  const start = () => {
    if (!started) {
      started = true;
      res.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-store' });
    }
  };
  const writeHeld = () => {
    const chunks = joinSmallParts(held);
    const callbacks = heldCallbacks;
    held = [];
    heldCallbacks = [];
    lastWriteAt = Date.now();
    const last = chunks.length - 1;
    // The last write's callback runs once every chunk before it is written too.
    const done = callbacks.length === 0 ? undefined : (error?: Error | null) => {
      for (const callback of callbacks) callback(!error);
    };
    if (chunks.length === 1) {
      res.write(chunks[0], done);
      return;
    }
    res.cork();
    chunks.forEach((chunk, i) => res.write(chunk, i === last ? done : undefined));
    res.uncork();
  };
  const flush = () => {
    flushQueued = false;
    if (ended || held.length === 0) return;
    if (abandoned()) {
      res.destroy();
      return;
    }
    start();
    writeHeld();
  };
  const queueFlush = () => {
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
  };
  // A slow call still tells its client the job id promptly.
  const headTimer = options.head === undefined ? undefined : setTimeout(flush, HEAD_FLUSH_MS);
  const keepAlive = setInterval(() => {
    if (ended || held.length > 0 || Date.now() - lastWriteAt < keepAliveMs * 0.9) return;
    if (abandoned()) {
      res.destroy();
      return;
    }
    start();
    lastWriteAt = Date.now();
    res.write(KEEPALIVE_FRAME);
  }, keepAliveMs);
  keepAlive.unref();

  const finish = () => {
    if (ended) return;
    ended = true;
    clearTimeout(headTimer);
    clearInterval(keepAlive);
    if (!started) {
      started = true;
      let length = 0;
      for (const part of held) length += part.byteLength;
      res.writeHead(200, { 'content-type': EVENT_STREAM, 'cache-control': 'no-store', 'content-length': length });
    }
    if (held.length > 0) {
      if (abandoned()) {
        res.destroy();
        return;
      }
      writeHeld();
    }
    res.end();
  };
  const sinks: EventSink[] = parts.map(() => {
    let sinkEnded = false;
    return {
      send(events: JobEvent[], written?: (ok: boolean) => void) {
        if (ended || sinkEnded) {
          written?.(false);
          return;
        }
        for (const part of encodeEventFrame(events)) held.push(part);
        if (written) heldCallbacks.push(written);
        queueFlush();
      },
      end() {
        if (sinkEnded) return;
        sinkEnded = true;
        if (--open === 0) finish();
      },
    };
  });
  res.on('close', () => {
    clearTimeout(headTimer);
    clearInterval(keepAlive);
    // Whatever was never written did not reach the client.
    for (const callback of heldCallbacks) callback(false);
    heldCallbacks = [];
    held = [];
    if (!ended) {
      ended = true;
      parts.forEach(({ tracker }, i) => tracker.detach(sinks[i]));
    }
  });
  if (options.preface && options.preface.length > 0) {
    held.push(encodeFrame(options.preface));
    queueFlush();
  }
  // After this I/O phase: a close that arrived with the request is seen first.
  setImmediate(() => {
    // (Not `request.raw.destroyed`: a request whose body was read is destroyed too.)
    const socket = res.socket;
    if (ended || res.destroyed || !socket || socket.destroyed || socket.writableEnded) {
      if (!res.destroyed) res.destroy();
      return;
    }
    if (parts.length === 0) finish();
    else parts.forEach(({ tracker, ids }, i) => tracker.attach(ids, sinks[i]));
  });
}

function positiveMs(header: string | string[] | undefined): number | undefined {
  const value = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function keepAliveInterval(header: string | string[] | undefined): number {
  const asked = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isFinite(asked) || asked <= 0) return DEFAULT_KEEPALIVE_MS;
  return Math.min(MAX_KEEPALIVE_MS, Math.max(MIN_KEEPALIVE_MS, Math.round(asked)));
}

/** Joins runs of small parts into one buffer each, so that a write is not many tiny chunks. */
function joinSmallParts(parts: Uint8Array[]): Uint8Array[] {
  if (parts.length === 1) return parts;
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  const endRun = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) out.push(Buffer.concat(run));
    run = [];
  };
  for (const part of parts) {
    if (part.byteLength < JOIN_BELOW_BYTES) {
      run.push(part);
    } else {
      endRun();
      out.push(part);
    }
  }
  endRun();
  return out;
}
