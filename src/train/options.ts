// Training options' defaults and ranges, shared by prune (fine-tuning) and distill, by the CLI and
// the library. Messages name the CLI flag: the pipeline and the library use the same names.
import { usageError, type EdgelmError } from '../errors.js';
import { BACKENDS, type Backend } from '../runtime/tfjs/backend.js';
import { TRAINING_DEFAULTS } from '../defaults.js';
import type { TrainOptions } from './loop.js';

export type TrainingSettings = Omit<TrainOptions, 'afterStep'>;


export function isInteger(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/** `flag: expected …, got V`, the one shape of a range error. */
export function rangeError(flag: string, expected: string, got: unknown): EdgelmError {
  return usageError(`${flag}: expected ${expected}, got ${typeof got === 'string' ? `'${got}'` : String(got)}`);
}

export function checkInteger(flag: string, v: unknown, min: number): number {
  if (!isInteger(v, min)) throw rangeError(flag, min === 1 ? 'a positive integer' : `an integer ≥ ${min}`, v);
  return v;
}

/** Training settings with the defaults filled in, every field checked. */
export function resolveTraining(t: Partial<TrainingSettings> | undefined, defaults: { epochs: number; lr: number; minEpochs: number }): TrainingSettings {
  const s = { ...TRAINING_DEFAULTS, epochs: defaults.epochs, lr: defaults.lr, ...t };
  checkInteger('--epochs', s.epochs, defaults.minEpochs);
  checkInteger('--batch-size', s.batchSize, 1);
  if (!(typeof s.lr === 'number' && s.lr > 0 && Number.isFinite(s.lr))) throw rangeError('--lr', 'a positive number', s.lr);
  if (s.optimizer !== 'adam' && s.optimizer !== 'sgd') throw rangeError('--optimizer', 'adam or sgd', s.optimizer);
  checkInteger('--seed', s.seed, 0);
  return s;
}

/** A TF.js backend name, or a usage error listing the backends. */
export function checkBackend(v: unknown): Backend {
  if (!(BACKENDS as readonly unknown[]).includes(v)) throw rangeError('--backend', `one of ${BACKENDS.join(', ')}`, v);
  return v as Backend;
}
