// The one training loop: seeded shuffling, Adam or SGD, a hook after every step (pruning masks),
// per-epoch loss and accuracy, and checkpoints that a resumed run continues bit for bit.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/index.js';
import { encodeNpz, parseNpz } from '../data/npz.js';
import { EdgelmError, usageError } from '../errors.js';
import { writeAtomic } from '../export/write.js';
import type { Tf, TfTensor } from '../ir/op.js';
import type { TrainableModel } from './model.js';

export interface Batch {
  x: TfTensor;
  /** Labels (int32), when the data has them. */
  y?: TfTensor;
  /** Sample indices in the dataset (for per-sample caches such as teacher logits). */
  indices: Int32Array;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  seed: number;
  /** Called after every optimizer step with the global step number (masks are re-applied here). */
  afterStep?: (step: number) => void;
  onProgress?: (epoch: number, done: number, total: number, loss: number) => void;
  /** Called after every epoch; returning true ends training (early stopping). */
  onEpoch?: (stats: EpochStats) => boolean | void;
  /** Save after every epoch into this folder; with `resume`, continue from what it holds. */
  checkpoint?: { dir: string; resume: boolean; identity: string };
}

export interface EpochStats {
  epoch: number;
  loss: number;
  accuracy?: number;
  /** Accuracy on held-out data, when the caller measures it (distill --val). */
  valAccuracy?: number;
  seconds: number;
}

/** mulberry32: a small seeded PRNG, so that shuffles are the same on every machine. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sample order of an epoch: a Fisher–Yates shuffle seeded by (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const rand = prng((seed * 1000003 + epoch * 7919) >>> 0);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

type Optimizer = {
  minimize(f: () => TfTensor, returnCost: boolean, varList?: TfTensor[]): TfTensor | null;
  getWeights(): Promise<{ name: string; tensor: TfTensor }[]>;
  setWeights(w: { name: string; tensor: TfTensor }[]): Promise<void>;
  dispose(): void;
};

export async function train(tf: Tf, model: TrainableModel, data: Dataset, loss: (logits: TfTensor, batch: Batch) => TfTensor, opts: TrainOptions): Promise<EpochStats[]> {
  const optimizer = (opts.optimizer === 'sgd' ? tf.train.sgd(opts.lr) : tf.train.adam(opts.lr)) as unknown as Optimizer;
  const vars = [...model.variables.values()];
  const n = data.shape[0]!;
  const per = data.x.length / n;
  const sampleShape = data.shape.slice(1);
  const history: EpochStats[] = [];
  let first = 0;
  if (opts.checkpoint?.resume) first = await restore(tf, model, optimizer, opts.checkpoint, history);
  let step = first * Math.ceil(n / opts.batchSize);
  try {
    for (let epoch = first; epoch < opts.epochs; epoch++) {
      const start = performance.now();
      const order = epochOrder(n, opts.seed, epoch);
      let lossSum = 0;
      let correct = 0;
      let labelled = 0;
      for (let s = 0; s < n; s += opts.batchSize) {
        const idx = order.subarray(s, Math.min(n, s + opts.batchSize));
        const xb = new (data.x.constructor as Float32ArrayConstructor)(idx.length * per);
        for (let k = 0; k < idx.length; k++) xb.set(data.x.subarray(idx[k]! * per, (idx[k]! + 1) * per), k * per);
        const x = tf.tensor(xb, [idx.length, ...sampleShape], data.x instanceof Int32Array ? 'int32' : 'float32');
        const k = data.y ? data.y.length / n : 1; // labels per sample (a sequence model has one per position)
        const y = data.y ? tf.tensor(Int32Array.from({ length: idx.length * k }, (_, j) => data.y![idx[Math.floor(j / k)]! * k + (j % k)]!), k === 1 ? [idx.length] : [idx.length, k], 'int32') : undefined;
        let hits: TfTensor | undefined;
        const cost = optimizer.minimize(() => {
          const logits = model.forward(x);
          if (y) hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), y), 'int32')));
          return loss(logits, { x, ...(y ? { y } : {}), indices: idx });
        }, true, vars)!;
        const c = (await cost.data())[0]!;
        if (!Number.isFinite(c)) throw new EdgelmError('input', `training diverged: loss is ${c} at epoch ${epoch + 1}, step ${step + 1}; lower --lr`);
        lossSum += c * idx.length;
        if (hits) {
          correct += (await hits.data())[0]!;
          labelled += idx.length * k;
          hits.dispose();
        }
        cost.dispose();
        x.dispose();
        y?.dispose();
        step++;
        opts.afterStep?.(step);
        // Let the event loop turn: wasm kernels resolve as microtasks, and signals (Ctrl-C) are only
        // delivered between macrotasks.
        await new Promise((resolve) => setImmediate(resolve));
        opts.onProgress?.(epoch, Math.min(n, s + opts.batchSize), n, lossSum / Math.min(n, s + opts.batchSize));
      }
      const stats: EpochStats = { epoch: epoch + 1, loss: lossSum / n, seconds: (performance.now() - start) / 1000, ...(labelled ? { accuracy: correct / labelled } : {}) };
      history.push(stats);
      const stop = opts.onEpoch?.(stats) === true;
      if (opts.checkpoint) await save(model, optimizer, opts.checkpoint, epoch + 1, history);
      if (stop) break;
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}

const STATE = 'state.json';
const WEIGHTS = 'weights.npz';
const OPTIMIZER = 'optimizer.npz';

async function save(model: TrainableModel, optimizer: Optimizer, c: NonNullable<TrainOptions['checkpoint']>, epochsDone: number, history: EpochStats[]): Promise<void> {
  const weights: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
  for (const [name, v] of model.variables) weights[name] = { dtype: 'float32', shape: v.shape, data: model.read(name) };
  const opt: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
  // TF.js optimizers restore their slots by position: keep the order they gave.
  const optimizerOrder: string[] = [];
  for (const w of await optimizer.getWeights()) {
    opt[w.name] = { dtype: 'float32', shape: w.tensor.shape, data: Float32Array.from(await w.tensor.data()) };
    optimizerOrder.push(w.name);
  }
  // Adam's bias-correction powers β^t are kept by repeated multiplication; restoring them as pow(β, t)
  // differs in the last bits, so they are saved as they are.
  const adam = optimizer as unknown as { accBeta1?: TfTensor; accBeta2?: TfTensor };
  const betaPowers = adam.accBeta1 && adam.accBeta2 ? [(await adam.accBeta1.data())[0]!, (await adam.accBeta2.data())[0]!] : undefined;
  // Weights and optimizer state first; state.json last marks the checkpoint complete.
  writeAtomic(join(c.dir, WEIGHTS), encodeNpz(weights as never));
  writeAtomic(join(c.dir, OPTIMIZER), encodeNpz(opt as never));
  writeAtomic(join(c.dir, STATE), `${JSON.stringify({ identity: c.identity, epochs: epochsDone, optimizerOrder, betaPowers, history }, null, 2)}\n`);
}

async function restore(tf: Tf, model: TrainableModel, optimizer: Optimizer, c: NonNullable<TrainOptions['checkpoint']>, history: EpochStats[]): Promise<number> {
  const statePath = join(c.dir, STATE);
  if (!existsSync(statePath)) return 0; // nothing saved yet: start from the beginning
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { identity: string; epochs: number; optimizerOrder: string[]; betaPowers?: number[]; history: EpochStats[] };
  if (state.identity !== c.identity) throw usageError(`--resume: ${c.dir} holds a checkpoint of a different run (other model, data or settings)`);
  const weights = parseNpz(join(c.dir, WEIGHTS), readFileSync(join(c.dir, WEIGHTS)));
  for (const [name, a] of weights) model.assign(name, a.data as Float32Array);
  const opt = parseNpz(join(c.dir, OPTIMIZER), readFileSync(join(c.dir, OPTIMIZER)));
  await optimizer.setWeights(state.optimizerOrder.map((name) => {
    const a = opt.get(name);
    if (!a) throw usageError(`--resume: ${c.dir} is incomplete (no optimizer state '${name}')`);
    return { name, tensor: tf.tensor(a.data as Float32Array, a.shape, 'float32') };
  }));
  const adam = optimizer as unknown as { accBeta1?: { assign(t: TfTensor): void }; accBeta2?: { assign(t: TfTensor): void } };
  if (state.betaPowers && adam.accBeta1 && adam.accBeta2) {
    adam.accBeta1.assign(tf.scalar(state.betaPowers[0]!));
    adam.accBeta2.assign(tf.scalar(state.betaPowers[1]!));
  }
  history.push(...state.history);
  return state.epochs;
}

/** Top-1 accuracy of the model's logits on labelled data (inference only). */
export function accuracyOn(tf: Tf, model: TrainableModel, data: Dataset, batchSize = 256): number {
  const n = data.shape[0]!;
  const per = data.x.length / n;
  let correct = 0;
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const hits = tf.tidy(() => {
      const x = tf.tensor(data.x.subarray(s * per, e * per), [e - s, ...data.shape.slice(1)], data.x instanceof Int32Array ? 'int32' : 'float32');
      const k = data.y!.length / n;
      const y = tf.tensor(data.y!.subarray(s * k, e * k), k === 1 ? [e - s] : [e - s, k], 'int32');
      return tf.sum(tf.cast(tf.equal(tf.argMax(model.forward(x), -1), y), 'int32'));
    });
    correct += hits.dataSync()[0]!;
    hits.dispose();
  }
  return correct / data.y!.length;
}
