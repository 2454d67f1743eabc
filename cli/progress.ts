import cliProgress from 'cli-progress';
import { formatSize } from './sizes.js';

export interface Progress {
  update(done: number, total: number | undefined): void;
  stop(): void;
}

/**
 * A transfer's progress bar (cli-progress, on stderr), shown only when stdout is a terminal:
 * piped or scripted runs print nothing extra.
 */
export function transferProgress(label: string, enabled = Boolean(process.stdout.isTTY)): Progress {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({
    format: `${label} {bar} {percentage}% | {done} of {size} | {speed}`,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  let running = false;
  return {
    update(done, total) {
      const size = total ?? done;
      const payload = {
        done: formatSize(done),
        size: total === undefined ? '?' : formatSize(total),
        speed: `${formatSize(Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)))}/s`,
      };
      if (!running) {
        bar.start(size, done, payload);
        running = true;
      } else {
        bar.setTotal(size);
        bar.update(done, payload);
      }
    },
    stop() {
      if (running) bar.stop();
    },
  };
}
