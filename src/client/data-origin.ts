import { DataHttp } from './data-http.js';
import { Transport } from './transport.js';

/** A node a user's process reaches over HTTP, and the token it needs. */
export interface DataOrigin {
  url: string;
  token?: string;
  /** PEM of the CA of an https node's certificate */
  ca?: string | Buffer;
}

let defaultOrigin: DataOrigin | undefined;

/** Recorded by `setupClient`: where RemoteData goes when nothing else says. */
export function setDefaultDataOrigin(origin: DataOrigin | undefined): void {
  defaultOrigin = origin;
}

export function defaultDataOrigin(): DataOrigin | undefined {
  return defaultOrigin;
}

const backends = new Map<string, DataHttp>();

/** One HTTP data backend (and connection pool) per node url and token, shared by every RemoteData. */
export function httpDataBackend(origin: DataOrigin): DataHttp {
  const url = origin.url.endsWith('/') ? origin.url : `${origin.url}/`;
  const key = `${url} ${origin.token ?? ''} ${origin.ca === undefined ? '' : String(origin.ca).length}`;
  let backend = backends.get(key);
  if (!backend) {
    backend = new DataHttp(new Transport(url, origin.token, { ca: origin.ca }));
    backends.set(key, backend);
  }
  return backend;
}
