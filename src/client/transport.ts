import { Pool, type Dispatcher } from 'undici';
import { decode, encode } from '../codec.js';
import { KsError, type ErrorCode } from '../errors.js';
import { FrameReader } from '../frames.js';

const CBOR = 'application/cbor';

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

  async requestCbor<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
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
    for await (const chunk of response.body) {
      for (const frame of reader.push(chunk as Buffer)) yield frame;
    }
    if (reader.leftover > 0) throw new KsError('unavailable', `the event stream from ${this.baseUrl} ended in the middle of a frame`);
  }

  private async send(method: 'GET' | 'POST', route: string, body?: unknown): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        method,
        path: this.path(route),
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': CBOR },
        body: body === undefined ? undefined : Buffer.from(encode(body)),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
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
