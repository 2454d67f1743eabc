/**
 * The actor base. An actor owns its state and is reached only through `tell` (fire and
 * forget) or `ask` (request with a typed reply). Messages are handled one at a time, in
 * arrival order; a handler that returns a promise holds the mailbox until it settles, so
 * long work belongs in the actor's own loops, not in a handler.
 */
import { runtimeLog } from './log.js';

export interface Reply<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export interface Message {
  type: string;
}

/** The messages of `M` that carry a reply: the ones `ask` sends. */
export type AskMessage<M extends Message> = Extract<M, { reply: Reply<never> }>;

/** The reply type of `M`'s message `type` K, read from that message's `reply: Reply<T>`. */
export type ReplyOf<M extends Message, K extends string> = Extract<M, { type: K }> extends { reply: Reply<infer T> } ? T : never;

/** What other code holds of an actor: its two ways in. */
export interface ActorRef<M extends Message> {
  tell(message: M): void;
  /**
   * Sends the message `build` returns, with a reply attached, and resolves with the reply.
   * The reply's type follows from the message's `type`: no type argument is needed.
   */
  ask<A extends AskMessage<M>>(build: (reply: Reply<unknown>) => A): Promise<ReplyOf<M, A['type']>>;
}

export abstract class Actor<M extends Message> implements ActorRef<M> {
  private readonly mailbox: M[] = [];
  private draining = false;
  private stopped = false;

  constructor(readonly actorName: string) {}

  /** Handles one message. Errors thrown here are reported through `onError`, never lost. */
  protected abstract receive(message: M): void | Promise<void>;

  protected onError(error: unknown, message: M): void {
    const reply = (message as { reply?: Reply<unknown> }).reply;
    if (reply) reply.reject(error);
    else runtimeLog().error({ err: error, actor: this.actorName, message: message.type }, 'an actor failed to handle a message');
  }

  tell(message: M): void {
    if (this.stopped) {
      this.onError(new Error(`${this.actorName} is stopped`), message);
      return;
    }
    this.mailbox.push(message);
    if (!this.draining) void this.drain();
  }

  ask<A extends AskMessage<M>>(build: (reply: Reply<unknown>) => A): Promise<ReplyOf<M, A['type']>> {
    return new Promise((resolve, reject) => this.tell(build({ resolve: resolve as (value: unknown) => void, reject })));
  }

  protected markStopped(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.mailbox.length > 0) {
        const message = this.mailbox.shift()!;
        try {
          const pending = this.receive(message);
          if (pending) await pending;
        } catch (error) {
          this.onError(error, message);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
