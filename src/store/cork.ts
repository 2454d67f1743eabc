import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

/**
 * Commands sent in one tick leave in one write: the socket is corked at the first command of
 * a tick and uncorked on the next tick. A write to Redis costs about as much as a small job
 * on this machine's main thread (the loopback syscall), so this matters.
 */
export function corkPerTick(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  let corked: Socket | undefined;
  const uncork = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    const socket = redis.stream as Socket | undefined;
    if (!corked && !args[1] && redis.status === 'ready' && socket?.writable) {
      corked = socket;
      socket.cork();
      process.nextTick(uncork);
    }
    return send(...args);
  }) as Redis['sendCommand'];
}
