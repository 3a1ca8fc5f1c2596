// Progress bars for long work: drawn on a TTY (stderr), silent otherwise, never with --json.
import { createRequire } from 'node:module';
import { isQuiet } from './output.js';

export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

/** The bar being drawn, if any: an error or an interrupt stops it before printing its own line. */
let active: Progress | undefined;

/** Stops (clears) the bar being drawn, so that the next message starts at the beginning of a line. */
export function stopProgress(): void {
  active?.stop();
}

export function progress(title: string, enabled = process.stderr.isTTY === true, stream: NodeJS.WritableStream = process.stderr): Progress {
  if (!enabled || isQuiet()) return { update: () => {}, stop: () => {} };
  // Loaded on first use: `edgelm --help` should not pay for it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: `${title.padEnd(18)} [{bar}] {percentage}% {value}/{total} {label}`, stream, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const p: Progress = {
    update(done, total, label = '') {
      if (!started) {
        bar.start(total, 0, { label });
        started = true;
        active = p;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
      started = false;
      if (active === p) active = undefined;
    },
  };
  return p;
}
