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
