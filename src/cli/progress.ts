// Progress bars for long work: drawn on a TTY (stderr), silent otherwise, never with --json.
import { createRequire } from 'node:module';
import { isQuiet } from './output.js';

export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export function progress(title: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled || isQuiet()) return { update: () => {}, stop: () => {} };
  // Loaded on first use: `edgelm --help` should not pay for it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${title.padEnd(18)} [{bar}] {percentage}% {value}/{total} {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = '') {
      if (!started) {
        bar.start(total, 0, { label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop: () => started && bar.stop(),
  };
}
