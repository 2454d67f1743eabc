import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { decode, encode } from '../codec.js';
import { KsError, type ErrorCode } from '../errors.js';
import { FrameReader } from '../frames.js';

const CBOR = 'application/cbor';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RawRequestOptions {
  body?: Buffer | Uint8Array | Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * HTTP to one node (undici, keep-alive). Bodies are CBOR; errors come back as
 * `{ error, code }` and are thrown as KsError.
 */
export class Transport {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;

  constructor(readonly baseUrl: string, token?: string) {
    const url = new URL(baseUrl);
    this.pool = new Pool(url.origin, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  private path(route: string): string {
    const url = new URL(route.replace(/^\//, ''), this.baseUrl);
    return url.pathname + url.search;
  }

  async requestCbor<T>(method: HttpMethod, route: string, body?: unknown): Promise<T> {
    const response = await this.send(method, route, body);
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const type = String(response.headers['content-type'] ?? '');
    if (type.startsWith('application/json')) return JSON.parse(bytes.toString('utf8')) as T;
    return decode<T>(bytes);
  }

  /** POSTs a CBOR body and yields the frames of the event stream that answers it. */
  async *stream<T>(route: string, body: unknown): AsyncGenerator<T> {
    const response = await this.send('POST', route, body);
    const reader = new FrameReader<T>();
    if (response.headers['content-length'] !== undefined) {
      // A complete answer (the node had every outcome at once, e.g. a fast call): read in one
      // go, without a stream iterator.
      for (const frame of reader.push(Buffer.from(await response.body.arrayBuffer()))) yield frame;
    } else {
      for await (const chunk of response.body) {
        for (const frame of reader.push(chunk as Buffer)) yield frame;
      }
    }
    if (reader.leftover > 0) throw new KsError('unavailable', `the event stream from ${this.baseUrl} ended in the middle of a frame`);
  }

  private async send(method: HttpMethod, route: string, body?: unknown): Promise<Dispatcher.ResponseData> {
    return this.requestRaw(method, route, body === undefined ? {} : { body: Buffer.from(encode(body)), headers: { 'content-type': CBOR } });
  }

  /**
   * One request with a raw body (a Buffer or a stream, sent as it is read) and extra headers.
   * Answers of 400 and above are thrown as KsError; the caller reads (or dumps) the body.
   */
  async requestRaw(method: HttpMethod, route: string, options: RawRequestOptions = {}): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method,
        path: this.path(route),
        headers: options.headers ? { ...this.headers, ...options.headers } : this.headers,
        body: options.body,
        signal: options.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const code = (error as { code?: string }).code ?? (error as Error).message;
      throw new KsError('unavailable', `cannot reach the kitchensink node at ${this.baseUrl}: ${code}`, { cause: error });
    }
    if (response.statusCode >= 400) {
      const text = await response.body.text();
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
