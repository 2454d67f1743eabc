/** Types for comlink's Node adapter (the package ships them beside the .mjs under a name TypeScript does not look for). */
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  import type { MessagePort } from 'node:worker_threads';

  export default function nodeEndpoint(endpoint: MessagePort): Endpoint;
}
