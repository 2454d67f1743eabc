import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { decode, encode } from '../codec.js';
import { KsError, type ErrorCode } from '../errors.js';
import { FrameReader } from '../frames.js';
import { GIVE_UP_HEADER, KEEPALIVE_HEADER } from '../protocol.js';

const CBOR = 'application/cbor';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RawRequestOptions {
  body?: Buffer | Uint8Array | Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** overrides the transport's timeout for this request (0: none), e.g. for answers that come only when long work ends */
  timeoutMs?: number;
}

export interface TransportOptions {
  /**
   * ms to wait for a connection, for the response headers once the request is sent, and
   * between two chunks of a response body; 0 or Infinity: wait forever (the default here;
   * the Client passes its own default)
   */
  requestTimeoutMs?: number;
  /** PEM of the CA that signed the node's certificate (https urls); default: the system's CAs */
  ca?: string | Buffer;
}

/**
 * The node did not answer (refused or reset connection, timeout, a stream that ended early):
 * a KsError (`timeout` or `unavailable`) that a client with several urls fails over on.
 * `reached` is false when the request certainly never reached the node (no connection).
 */
export class NodeUnreachableError extends KsError {
  constructor(code: 'timeout' | 'unavailable', message: string, readonly node: string, readonly reached: boolean, cause?: unknown) {
    super(code, message, { cause });
  }
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** A keep-alive interval that leaves the client at least two chances within its timeout. */
export function keepAliveMsFor(timeoutMs: number): number {
  return Math.max(100, Math.floor(timeoutMs / 4));
}

/**
 * HTTP to one node (undici, keep-alive). Bodies are CBOR; errors come back as
 * `{ error, code }` and are thrown as KsError.
 */
export class Transport {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  /** 0: no timeout */
  readonly timeoutMs: number;

  constructor(readonly baseUrl: string, token?: string, options: TransportOptions = {}) {
    const url = new URL(baseUrl);
    this.timeoutMs = normalTimeout(options.requestTimeoutMs);
    this.pool = new Pool(url.origin, {
      connections: 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: {
        ...(this.timeoutMs > 0 ? { timeout: this.timeoutMs } : {}),
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
      },
    });
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  private path(route: string): string {
    const url = new URL(route.replace(/^\//, ''), this.baseUrl);
    return url.pathname + url.search;
  }

  async requestCbor<T>(method: HttpMethod, route: string, body?: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    const response = await this.send(method, route, body, options.timeoutMs);
    const bytes = await this.readAll(response, method, route);
    const type = String(response.headers['content-type'] ?? '');
    if (type.startsWith('application/json')) return JSON.parse(bytes.toString('utf8')) as T;
    return decode<T>(bytes);
  }

  /** POSTs a CBOR body and yields the frames of the event stream that answers it. */
  /**
   * POSTs a CBOR body and yields the frames of the event stream that answers it. With a
   * timeout, the node is asked for keep-alive frames (empty arrays) so that only silence, not
   * a long job, runs into it.
   */
  async *stream<T>(route: string, body: unknown): AsyncGenerator<T> {
    const headers: Record<string, string> = { 'content-type': CBOR };
    if (this.timeoutMs > 0) {
      headers[KEEPALIVE_HEADER] = String(keepAliveMsFor(this.timeoutMs));
      headers[GIVE_UP_HEADER] = String(this.timeoutMs);
    }
    const response = await this.requestRaw('POST', route, { body: Buffer.from(encode(body)), headers });
    const reader = new FrameReader<T>();
    if (response.headers['content-length'] !== undefined) {
      // A complete answer (the node had every outcome at once, e.g. a fast call): read in one
      // go, without a stream iterator.
      for (const frame of reader.push(await this.readAll(response, 'POST', route))) yield frame;
    } else {
      const chunks = response.body[Symbol.asyncIterator]();
      try {
        for (;;) {
          let next: IteratorResult<unknown>;
          try {
            next = await chunks.next();
          } catch (error) {
            throw this.lost(error, 'POST', route, 'events');
          }
          if (next.done) break;
          for (const frame of reader.push(next.value as Buffer)) yield frame;
        }
      } finally {
        // A reader that stops early (a failure thrown) closes the stream, as for-await would.
        await chunks.return?.();
      }
    }
    if (reader.leftover > 0) throw new NodeUnreachableError('unavailable', `the event stream from ${this.baseUrl} ended in the middle of a frame`, this.baseUrl, true);
  }

  private async send(method: HttpMethod, route: string, body?: unknown, timeoutMs?: number): Promise<Dispatcher.ResponseData> {
    const options: RawRequestOptions = body === undefined ? {} : { body: Buffer.from(encode(body)), headers: { 'content-type': CBOR } };
    if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
    return this.requestRaw(method, route, options);
  }

  private async readAll(response: Dispatcher.ResponseData, method: HttpMethod, route: string): Promise<Buffer> {
    try {
      return Buffer.from(await response.body.arrayBuffer());
    } catch (error) {
      throw this.lost(error, method, route, 'body');
    }
  }

  /**
   * The error for a request the node did not answer: before its headers (`request`), while
   * sending a body (`body`), or in an event stream (`events`).
   */
  private lost(error: unknown, method: HttpMethod, route: string, phase: 'request' | 'body' | 'events', timeoutMs = this.timeoutMs): NodeUnreachableError {
    const streaming = phase !== 'request';
    const code = (error as { code?: string }).code ?? (error as Error).message;
    const what = `${method} /${route.replace(/^\//, '').split('?')[0]}`;
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new NodeUnreachableError('timeout', `could not connect to the kitchensink node at ${this.baseUrl} within ${timeoutMs} ms (for ${what})`, this.baseUrl, false, error);
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new NodeUnreachableError('timeout', `the kitchensink node at ${this.baseUrl} did not answer ${what} within ${timeoutMs} ms (waited for the response headers)`, this.baseUrl, true, error);
      case 'UND_ERR_BODY_TIMEOUT':
        return new NodeUnreachableError('timeout', `the kitchensink node at ${this.baseUrl} went silent for more than ${timeoutMs} ms in the answer to ${what} (${phase === 'events' ? 'waited for results or a keep-alive frame' : 'waited for the rest of the body'})`, this.baseUrl, true, error);
      default:
        return new NodeUnreachableError('unavailable', `cannot reach the kitchensink node at ${this.baseUrl}: ${code}${streaming ? ` (the answer to ${what} broke off)` : ''}`, this.baseUrl, !NOT_CONNECTED.has(code), error);
    }
  }

  /**
   * One request with a raw body (a Buffer or a stream, sent as it is read) and extra headers.
   * Answers of 400 and above are thrown as KsError; the caller reads (or dumps) the body.
   */
  async requestRaw(method: HttpMethod, route: string, options: RawRequestOptions = {}): Promise<Dispatcher.ResponseData> {
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : normalTimeout(options.timeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method,
        path: this.path(route),
        headers: options.headers ? { ...this.headers, ...options.headers } : this.headers,
        body: options.body,
        signal: options.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw this.lost(error, method, route, 'request', timeoutMs);
    }
    if (response.statusCode >= 400) {
      const text = (await this.readAll(response, method, route)).toString('utf8');
      let parsed: { error?: string; code?: ErrorCode } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        parsed = { error: text };
      }
      throw new KsError(parsed.code ?? 'internal', parsed.error ?? `HTTP ${response.statusCode}`, { status: response.statusCode });
    }
    return response;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** 0 for none (undefined, 0, Infinity); else a positive whole number of ms */
function normalTimeout(ms: number | undefined): number {
  if (ms === undefined || ms === 0 || ms === Infinity) return 0;
  if (!(ms > 0) || !Number.isFinite(ms)) throw new KsError('bad_request', `requestTimeoutMs must be a positive number of ms, 0 or Infinity, not ${ms}`);
  return Math.max(1, Math.round(ms));
}
