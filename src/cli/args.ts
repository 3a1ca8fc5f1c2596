// Flag parsing and result shapes shared by the commands. Kept free of heavy imports: command
// modules load at start-up, before any command runs.
import { usageError } from '../errors.js';

/** An integer flag of at least `min`; a usage error (exit 2) naming the flag otherwise. */
export function intOption(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw usageError(`${flag}: expected ${min === 1 ? 'a positive integer' : `an integer ≥ ${min}`}, got '${value}'`);
  return n;
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

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** "batch_size=1 (batch), sequence_length=64 (bound)": which sizes a static-shape export used. */
export function describeDims(dims: readonly { symbol: string; size: number; reason: string }[]): string {
  return dims.map((d) => `${d.symbol}=${d.size} (${d.reason === 'bound' ? 'the model’s limit' : d.reason === 'default' ? 'default' : d.reason === 'given' ? '--shape' : 'batch'})`).join(', ');
}
