// Terminal output helpers. The library never prints; only the CLI writes to stdout/stderr.
let quiet = false;
/** --quiet: no logs or progress on stderr (errors still print). */
export function setQuiet(): void {
  quiet = true;
}
export function isQuiet(): boolean {
  return quiet;
}

/** The four styles the CLI uses, as ANSI escapes (a colour library cost 17 ms of every start-up). */
export interface Colours {
  bold(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

/** Colours only on a TTY and never when NO_COLOR is set (https://no-color.org). */
export function colours(stream: NodeJS.WriteStream = process.stdout): Colours {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const style = (open: number, close: number) => (s: string): string => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { bold: style(1, 22), green: style(32, 39), red: style(31, 39), yellow: style(33, 39) };
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

/** A plain aligned table; colour only in the header. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], c: Colours = colours()): string {
  const cells = rows.map((r) => columns.map((col) => col.value(r)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((row) => row[i]!.length)));
  const fmt = (s: string, i: number): string => (columns[i]!.align === 'right' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const head = columns.map((col, i) => c.bold(fmt(col.header, i))).join('  ');
  return [head, ...cells.map((row) => row.map(fmt).join('  ').trimEnd())].join('\n');
}

export { bytes as formatBytes } from '../report/render.js';

export const formatCount = (n: number): string => n.toLocaleString('en-US');

/** Timings: run-to-run noise is far above 4 significant digits. */
const TIMING_KEYS = new Set(['latencyMs', 'seconds', 'tokensPerSecond']);
/** Values stored in a file (quantization parameters): written exactly as stored. */
const STORED_KEYS = new Set(['scale', 'zeroPoint']);

/**
 * A number as JSON shows it: timings to 4 significant digits, stored values exactly, other
 * non-integers to 12 significant digits (exact ratios such as 9712/10000 stay exact; binary noise
 * such as 0.30000000000000004 goes).
 */
export function roundForJson(key: string, v: number): number {
  if (Number.isInteger(v) || !Number.isFinite(v) || STORED_KEYS.has(key)) return v;
  const decimals = DECIMAL_KEYS[key];
  if (decimals !== undefined) return Number(v.toFixed(decimals));
  return Number(v.toPrecision(TIMING_KEYS.has(key) || key.endsWith('Ms') || key.endsWith('Ratio') ? 4 : 12));
}

/** Measures with a fixed resolution: cosine similarity to 1e-9, SQNR to 0.001 dB. */
const DECIMAL_KEYS: Record<string, number> = { cosine: 9, sqnrDb: 3 };

/** The one way the CLI writes a JSON document (stdout with --json, and report files). */
export function jsonDocument(value: unknown): string {
  // Array elements are rounded by their array's key (scale: [...]).
  const arrayKeys = new WeakMap<object, string>();
  return `${JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (Array.isArray(v)) arrayKeys.set(v, key);
    if (typeof v !== 'number') return v;
    return roundForJson(Array.isArray(this) ? (arrayKeys.get(this) ?? key) : key, v);
  }, 2)}\n`;
}

/** Names from a model file can hold newlines or terminal escapes: show them escaped, keeping the message one line. */
export const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
