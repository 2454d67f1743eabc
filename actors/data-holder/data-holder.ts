import { Actor, type Reply } from '../../src/actor.js';

/** Metadata the catalog keeps per data url (DESIGN §4). */
export interface DataInfo {
  url: string;
  size: number;
  sha256: string;
  fmt: 'cbor' | 'json' | 'raw' | 'file';
  created: number;
}

/**
 * Messages of the DataHolder: the node's data directory and its share of the catalog.
 * The mailbox and message types are fixed here; the remote-data issue gives them a body.
 */
export type DataHolderMessage =
  | { type: 'info'; urls: string[]; reply: Reply<Map<string, DataInfo | null>> }
  | { type: 'localPath'; url: string; reply: Reply<string> }
  | { type: 'delete'; url: string; reply: Reply<boolean> };

export class DataHolder extends Actor<DataHolderMessage> {
  constructor() {
    super('data-holder');
  }

  protected receive(message: DataHolderMessage): void {
    message.reply.reject(new Error(`remote data is not available yet (${message.type})`));
  }
}
