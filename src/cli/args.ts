// Flag parsing and result shapes shared by the commands. Kept free of heavy imports: command
// modules load at start-up, before any command runs. Flags carry no commander defaults: a flag
// that is undefined was not given, the library fills in its default (shown in --help from the
// library's table), and a flag given where it has no effect can be refused.
import { usageError } from '../errors.js';

/** A numeric flag as a number; ranges are the library's to check. */
export function numberFlag(flag: string, value: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n)) throw usageError(`${flag}: expected a number, got '${value}'`);
  return n;
}

/** An integer flag of at least `min`; a usage error (exit 2) naming the flag otherwise. */
export function intOption(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw usageError(`${flag}: expected ${min === 1 ? 'a positive integer' : `an integer ≥ ${min}`}, got '${value}'`);
  return n;
}

/** A help line with the library's default, as commander would show it. */
export const withDefault = (description: string, value: string | number): string => `${description} (default: ${value})`;

/**
 * Options a command needs, checked after its arguments (commander checks required options first,
 * so `edgelm quantize` alone would complain about -o before the missing model).
 */
export function requireFlags(flags: object, required: readonly (readonly [key: string, flag: string])[]): void {
  for (const [key, flag] of required) if ((flags as Record<string, unknown>)[key] === undefined) throw usageError(`required option '${flag}' not specified`);
}

/** Refuses the first of `flags` that was given although `why` makes it have no effect. */
export function refuseGiven(flags: object, which: readonly (readonly [key: string, flag: string])[], why: string): void {
  for (const [key, flag] of which) {
    const v = (flags as Record<string, unknown>)[key];
    if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) throw usageError(`${flag} has no effect ${why}`);
  }
}

/** Only the entries whose value is defined (for optional properties under exactOptionalPropertyTypes). */
export function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** A command's JSON summary with its terminal rendering attached (not serialized). */
export type Summary = Record<string, unknown> & { text: string };

export function summary(fields: Record<string, unknown>, text: string): Summary {
  const s = { ...fields, text } as Summary;
  Object.defineProperty(s, 'text', { enumerable: false });
  return s;
}

/** `--shape NAME=1x128` (repeatable) → { NAME: [1, 128] }; commander collects the values. */
export function shapeOption(values: readonly string[] = []): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const v of values) {
    const m = /^(.+)=(\d+(?:x\d+)*)$/.exec(v);
    if (!m) throw usageError(`--shape: expected NAME=1x128 (sizes joined by x), got '${v}'`);
    out[m[1]!] = m[2]!.split('x').map(Number);
  }
  return out;
}

/** `--input-value NAME=16000` or `NAME=1,2,3` (repeatable) → { NAME: [16000] }. */
export function inputValueOption(values: readonly string[] = []): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const v of values) {
    const m = /^(.+?)=(-?[\d.e+-]+(?:,-?[\d.e+-]+)*)$/.exec(v);
    const nums = m ? m[2]!.split(',').map(Number) : [];
    if (!m || nums.some((x) => !Number.isFinite(x))) throw usageError(`--input-value: expected NAME=VALUE or NAME=V1,V2,… (numbers), got '${v}'`);
    out[m[1]!] = nums;
  }
  return out;
}

/**
 * Where `--shape` and `--input-value` apply: an ONNX source takes both at import, whatever the
 * output format; other sources take `--shape` only when the TFLite writer fixes run-time dims.
 */
export function inputFixes(sourceFormat: string, shape: readonly string[], inputValue: readonly string[]): { fixed?: { shapes: Record<string, number[]>; values: Record<string, number[]> }; exportShapes?: Record<string, number[]> } {
  const shapes = shapeOption(shape);
  const values = inputValueOption(inputValue);
  if (sourceFormat === 'onnx') return shape.length || inputValue.length ? { fixed: { shapes, values } } : {};
  if (inputValue.length) throw usageError(`--input-value applies to ONNX models (the source is ${sourceFormat})`);
  return shape.length ? { exportShapes: shapes } : {};
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** "batch_size=1 (batch), sequence_length=64 (bound)": which sizes a static-shape export used. */
export function describeDims(dims: readonly { symbol: string; size: number; reason: string }[]): string {
  return dims.map((d) => `${d.symbol}=${d.size} (${d.reason === 'bound' ? 'the model’s limit' : d.reason === 'default' ? 'default' : d.reason === 'given' ? '--shape' : 'batch'})`).join(', ');
}
