// Terminal output helpers. The library never prints; only the CLI writes to stdout/stderr.
import chalk, { Chalk, type ChalkInstance } from 'chalk';

let quiet = false;
/** --quiet: no logs or progress on stderr (errors still print). */
export function setQuiet(): void {
  quiet = true;
}
export function isQuiet(): boolean {
  return quiet;
}

/** Colours only on a TTY and never when NO_COLOR is set (https://no-color.org). */
export function colours(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  return new Chalk({ level: on ? chalk.level || 1 : 0 });
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

/** A plain aligned table; colour only in the header. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], c: ChalkInstance = colours()): string {
  const cells = rows.map((r) => columns.map((col) => col.value(r)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((row) => row[i]!.length)));
  const fmt = (s: string, i: number): string => (columns[i]!.align === 'right' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const head = columns.map((col, i) => c.bold(fmt(col.header, i))).join('  ');
  return [head, ...cells.map((row) => row.map(fmt).join('  ').trimEnd())].join('\n');
}

export { bytes as formatBytes } from '../report/render.js';

export const formatCount = (n: number): string => n.toLocaleString('en-US');
