// Options and progress shared by the commands that train (prune, distill) and by pipelines.
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { TRAINING_DEFAULTS } from '../../defaults.js';
import type { EpochStats, TrainOptions } from '../../train/loop.js';
import type { TrainingSettings } from '../../train/options.js';
import { numberFlag, withDefault } from '../args.js';
import { isQuiet } from '../output.js';
import { progress } from '../progress.js';

export interface TrainingFlags {
  data?: string;
  labels?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  optimizer?: string;
  seed?: string;
  checkpoint?: string;
  resume?: boolean;
  backend?: string;
}

/** The training flags; their defaults are the library's (`defaults`, then TRAINING_DEFAULTS). */
export function addTrainingOptions(cmd: Command, defaults: { epochs: number; lr: number; backend: string }): Command {
  return cmd
    .option('--epochs <n>', withDefault('training epochs', defaults.epochs))
    .option('--batch-size <n>', withDefault('samples per training step', TRAINING_DEFAULTS.batchSize))
    .option('--lr <rate>', withDefault('learning rate', defaults.lr))
    .option('--optimizer <name>', withDefault('adam or sgd', TRAINING_DEFAULTS.optimizer))
    .option('--seed <n>', withDefault('seed for shuffling and initialization', TRAINING_DEFAULTS.seed))
    .option('--checkpoint <dir>', 'save weights and optimizer state after every epoch')
    .option('--resume', 'continue from the checkpoint in --checkpoint')
    .option('--backend <name>', withDefault('TF.js backend: wasm, cpu, node, auto', defaults.backend));
}

/** The training flags that were given, as library options (the library fills in the rest and checks ranges). */
export function trainingFlags(flags: TrainingFlags): Partial<TrainingSettings> {
  const t: Partial<TrainingSettings> = {};
  if (flags.epochs !== undefined) t.epochs = numberFlag('--epochs', flags.epochs);
  if (flags.batchSize !== undefined) t.batchSize = numberFlag('--batch-size', flags.batchSize);
  if (flags.lr !== undefined) t.lr = numberFlag('--lr', flags.lr);
  if (flags.optimizer !== undefined) t.optimizer = flags.optimizer as 'adam';
  if (flags.seed !== undefined) t.seed = numberFlag('--seed', flags.seed);
  return t;
}

/** Flags that only matter when training runs (prune without --epochs refuses them). */
export const TRAINING_ONLY_FLAGS = [['batchSize', '--batch-size'], ['lr', '--lr'], ['optimizer', '--optimizer'], ['seed', '--seed'], ['checkpoint', '--checkpoint'], ['resume', '--resume'], ['backend', '--backend']] as const;

/** Adds the checkpoint (tied to this run's identity) and the progress hooks to resolved settings. */
export async function withCheckpointAndProgress(flags: TrainingFlags, t: TrainingSettings, identity: unknown, json: boolean): Promise<TrainingSettings> {
  const { usageError } = await import('../../errors.js');
  if (flags.resume && !flags.checkpoint) throw usageError('--resume needs --checkpoint DIR');
  const opts: TrainingSettings = { ...t, ...trainingProgress(t.epochs, { json }) };
  if (flags.checkpoint) {
    // A checkpoint belongs to one run: same inputs and settings (epochs may grow on resume).
    const id = createHash('sha256').update(JSON.stringify({ identity, batchSize: t.batchSize, lr: t.lr, optimizer: t.optimizer, seed: t.seed })).digest('hex').slice(0, 16);
    opts.checkpoint = { dir: flags.checkpoint, resume: flags.resume === true, identity: id };
  }
  return opts;
}

/**
 * Progress of `epochs` epochs on stderr: a bar during each epoch on a TTY, and one line per epoch
 * everywhere (CI logs included). Nothing with --json or --quiet.
 */
export function trainingProgress(epochs: number, opts: { json: boolean }): Pick<TrainOptions, 'onProgress' | 'onEpoch'> {
  if (opts.json || isQuiet()) return {};
  let bar: ReturnType<typeof progress> | undefined;
  return {
    onProgress(epoch, done, total, loss) {
      bar ??= progress(`epoch ${epoch + 1}/${epochs}`);
      bar.update(done, total, `loss ${loss.toFixed(4)}`);
    },
    onEpoch(s: EpochStats) {
      bar?.stop();
      bar = undefined;
      process.stderr.write(`${epochLine(s, epochs)}\n`);
    },
  };
}

export function epochLine(s: EpochStats, epochs: number): string {
  const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
  return `epoch ${s.epoch}/${epochs}: loss ${s.loss.toFixed(4)}${s.accuracy !== undefined ? `, training accuracy ${pct(s.accuracy)}` : ''}${s.valAccuracy !== undefined ? `, val accuracy ${pct(s.valAccuracy)}` : ''} (${s.seconds.toFixed(1)} s)`;
}
