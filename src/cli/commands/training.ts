// Options and progress shared by the commands that train (prune, distill).
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import type { EpochStats, TrainOptions } from '../../train/loop.js';
import { intOption } from '../args.js';
import { progress } from '../progress.js';

export interface TrainingFlags {
  data?: string;
  labels?: string;
  epochs: string;
  batchSize: string;
  lr: string;
  optimizer: string;
  seed: string;
  checkpoint?: string;
  resume?: boolean;
  backend: string;
}

export function addTrainingOptions(cmd: Command, defaults: { epochs: string; lr: string }): Command {
  return cmd
    .option('--epochs <n>', 'training epochs', defaults.epochs)
    .option('--batch-size <n>', 'samples per training step', '64')
    .option('--lr <rate>', 'learning rate', defaults.lr)
    .option('--optimizer <name>', 'adam or sgd', 'adam')
    .option('--seed <n>', 'seed for shuffling and initialization', '1')
    .option('--checkpoint <dir>', 'save weights and optimizer state after every epoch')
    .option('--resume', 'continue from the checkpoint in --checkpoint')
    .option('--backend <name>', 'TF.js backend: wasm, cpu, node, auto', 'wasm');
}

export async function trainingOptions(flags: TrainingFlags, identity: unknown, json: boolean): Promise<Omit<TrainOptions, 'afterStep'> & { backend: string }> {
  const { usageError } = await import('../../errors.js');

  const lr = Number(flags.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw usageError(`--lr: expected a positive number, got '${flags.lr}'`);
  if (flags.optimizer !== 'adam' && flags.optimizer !== 'sgd') throw usageError(`--optimizer: expected adam or sgd, got '${flags.optimizer}'`);
  if (flags.resume && !flags.checkpoint) throw usageError('--resume needs --checkpoint DIR');
  const opts: Omit<TrainOptions, 'afterStep'> & { backend: string } = {
    epochs: intOption('--epochs', flags.epochs, 0),
    batchSize: intOption('--batch-size', flags.batchSize),
    lr,
    optimizer: flags.optimizer,
    seed: intOption('--seed', flags.seed, 0),
    backend: flags.backend,
  };
  if (flags.checkpoint) {
    // A checkpoint belongs to one run: same inputs and settings (epochs may grow on resume).
    const id = createHash('sha256').update(JSON.stringify({ identity, batchSize: opts.batchSize, lr, optimizer: opts.optimizer, seed: opts.seed })).digest('hex').slice(0, 16);
    opts.checkpoint = { dir: flags.checkpoint, resume: flags.resume === true, identity: id };
  }
  const { isQuiet } = await import('../output.js');
  const show = !json && !isQuiet() && process.stderr.isTTY === true;
  let bar: ReturnType<typeof progress> | undefined;
  opts.onProgress = (epoch, done, total, loss) => {
    bar ??= progress(`epoch ${epoch + 1}/${opts.epochs}`, show);
    bar.update(done, total, `loss ${loss.toFixed(4)}`);
  };
  opts.onEpoch = (s: EpochStats) => {
    bar?.stop();
    bar = undefined;
    if (show) process.stderr.write(`epoch ${s.epoch}/${opts.epochs}: loss ${s.loss.toFixed(4)}${s.accuracy !== undefined ? `, accuracy ${(100 * s.accuracy).toFixed(2)}%` : ''}${s.valAccuracy !== undefined ? `, val ${(100 * s.valAccuracy).toFixed(2)}%` : ''} (${s.seconds.toFixed(1)} s)\n`);
  };
  return opts;
}
