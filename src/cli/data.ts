// The data flags the commands share (loading itself is the library's loadDatasetFor).
import { existsSync } from 'node:fs';
import { inputError, usageError } from '../errors.js';

export interface DataFlags {
  labels?: string;
  vocab?: string;
}

export const VOCAB_OPTION = ['--vocab <file>', "vocabulary for .txt data: a JSON array of characters in token-id order (default: the model's metadata)"] as const;

/** The data flags that are set (for passing on under exactOptionalPropertyTypes). */
export function dataFlags(flags: DataFlags): DataFlags {
  return { ...(flags.labels ? { labels: flags.labels } : {}), ...(flags.vocab ? { vocab: flags.vocab } : {}) };
}

/** Data files named by flags exist: checked before any work, so that a typo does not cost a training run. */
export function requireFiles(files: Record<string, string | undefined>): void {
  for (const [flag, path] of Object.entries(files)) if (path !== undefined && !existsSync(path)) throw inputError(path, `no such file (${flag})`);
}

/**
 * Refuses --labels and --vocab where no data file reads them: labels apply to .npy (and replace an
 * .npz's y), a vocabulary to .txt text.
 */
export function checkDataFlags(flags: DataFlags, dataFiles: readonly (string | undefined)[]): void {
  const files = dataFiles.filter((f): f is string => f !== undefined).map((f) => f.toLowerCase());
  const names = files.length ? files.join(', ') : 'no data flag';
  if (flags.labels !== undefined && !files.some((f) => f.endsWith('.npy') || f.endsWith('.npz'))) throw usageError(`--labels has no effect with ${names}: labels are read for .npy (or .npz) samples`);
  if (flags.vocab !== undefined && !files.some((f) => f.endsWith('.txt'))) throw usageError(`--vocab has no effect with ${names}: a vocabulary maps the characters of .txt data`);
}
