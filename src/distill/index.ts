// `distill` as a library function: a student trained on the teacher's softened logits (Hinton et al.
// 2015), the teacher in inference only with its logits cached once per sample.
import type { Dataset } from '../data/index.js';
import { fitToModel } from '../data/index.js';
import { DISTILL_DEFAULTS } from '../defaults.js';
import { VOCAB_KEY } from '../data/text.js';
import { usageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { reinitialize, scaleWidths } from '../prune/channels.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';
import { accuracyOn, train, type EpochStats } from '../train/loop.js';
import { checkBackend, checkInteger, rangeError, resolveTraining, type TrainingSettings } from '../train/options.js';
import { distillationLoss } from '../train/losses.js';
import { logitsValue, TrainableModel } from '../train/model.js';

export interface DistillOptions {
  /** The student: a graph (its weights are the starting point unless `reinit`)… */
  student?: Graph;
  /** …or a width factor in (0, 1] deriving a freshly initialized one from the teacher (give exactly one). */
  studentWidth?: number;
  /** Re-initialize the given `student` before training. */
  reinit?: boolean;
  /** Training samples; labels are optional (without them the teacher is the only signal). */
  data: Dataset;
  /** Softmax temperature of the soft targets. */
  temperature?: number;
  /** Weight of the soft (teacher) term, in [0, 1]; 1 − alpha weighs the labels (1 without labels). */
  alpha?: number;
  /** Held-out labelled data: accuracy per epoch, and the best epoch's student is returned. */
  val?: Dataset;
  /** With `val`: stop after this many epochs without improvement. */
  earlyStop?: number;
  /** Training settings; epochs must be at least 1. */
  training?: Partial<TrainingSettings>;
  backend?: Backend;
}

export type ResolvedDistillOptions = Required<Pick<DistillOptions, 'temperature' | 'alpha' | 'reinit' | 'backend'>> & { training: TrainingSettings; earlyStop?: number };

/**
 * The options with defaults filled in, or a usage error for a value out of range or a setting that
 * would have no effect. Models and data are only checked for presence (the CLI checks before loading them).
 */
export function resolveDistillOptions(opts: Omit<DistillOptions, 'data' | 'student' | 'val'> & { data?: unknown; student?: unknown; val?: unknown }): ResolvedDistillOptions {
  if ((opts.student === undefined) === (opts.studentWidth === undefined)) throw usageError('give exactly one of --student MODEL and --student-width F');
  if (opts.studentWidth !== undefined && !(typeof opts.studentWidth === 'number' && opts.studentWidth > 0 && opts.studentWidth <= 1)) throw rangeError('--student-width', 'a factor in (0, 1]', opts.studentWidth);
  if (opts.reinit && opts.student === undefined) throw usageError('--reinit has no effect with --student-width: a derived student is freshly initialized');
  if (opts.data === undefined) throw usageError('distillation needs training samples (--data)');
  const temperature = opts.temperature ?? DISTILL_DEFAULTS.temperature;
  if (!(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) throw rangeError('--temperature', 'a positive number', temperature);
  const alpha = opts.alpha ?? DISTILL_DEFAULTS.alpha;
  if (!(typeof alpha === 'number' && alpha >= 0 && alpha <= 1)) throw rangeError('--alpha', 'a number in [0, 1]', alpha);
  if (opts.earlyStop !== undefined) {
    checkInteger('--early-stop', opts.earlyStop, 1);
    if (opts.val === undefined) throw usageError('--early-stop needs --val DATA');
  }
  const training = resolveTraining(opts.training, { epochs: DISTILL_DEFAULTS.epochs, lr: DISTILL_DEFAULTS.lr, minEpochs: 1 });
  const backend = checkBackend(opts.backend ?? DISTILL_DEFAULTS.backend);
  return { temperature, alpha, reinit: opts.reinit === true, backend, training, ...(opts.earlyStop !== undefined ? { earlyStop: opts.earlyStop } : {}) };
}

export interface DistillResult {
  student: Graph;
  history: EpochStats[];
  /** With val data: the epoch whose student is returned, and its accuracy. */
  best?: { epoch: number; accuracy: number };
  alpha: number;
}

/** Trains a student on `teacher`'s softened logits (see DistillOptions; options not given get the CLI's defaults). */
export async function distillModel(teacher: Graph, opts: DistillOptions): Promise<DistillResult> {
  const r = resolveDistillOptions(opts);
  const { temperature, training } = r;
  let alpha = r.alpha;
  const seed = training.seed;
  let student = opts.student ?? scaleWidths(teacher, opts.studentWidth!, seed);
  if (opts.student && r.reinit) student = reinitialize(student, seed);
  // A language-model student reads the teacher's tokens: it carries the teacher's vocabulary.
  if (teacher.metadata[VOCAB_KEY] !== undefined) student = { ...student, metadata: { ...student.metadata, [VOCAB_KEY]: teacher.metadata[VOCAB_KEY] } };
  const data = fitToModel(opts.data, teacher.inputs[0]!.shape);
  if (!data.y) alpha = 1; // no labels: the teacher is the only signal
  const val = opts.val ? fitToModel(opts.val, student.inputs[0]!.shape) : undefined;
  if (val && !val.y) throw usageError(`${val.source}: validation data needs labels`);
  const tf = await loadTf(r.backend);

  // The teacher runs once, in inference: its logits for every training sample are cached.
  const n = data.shape[0]!;
  const per = data.x.length / n;
  const exec = new GraphExecutor(tf, teacher);
  const tLogits = logitsValue(teacher);
  let cache: Float32Array | undefined;
  let classes = 0;
  try {
    for (let s = 0; s < n; s += 256) {
      const e = Math.min(n, s + 256);
      const x = tf.tensor(data.x.subarray(s * per, e * per), [e - s, ...data.shape.slice(1)], data.x instanceof Int32Array ? 'int32' : 'float32');
      const [z] = exec.run({ [teacher.inputs[0]!.name]: x }, [tLogits]);
      const d = (await z!.data()) as Float32Array;
      classes ||= d.length / (e - s);
      cache ??= new Float32Array(n * classes);
      cache.set(d, s * classes);
      z!.dispose();
      x.dispose();
    }
  } finally {
    exec.dispose();
  }

  const model = new TrainableModel(tf, student);
  let best: { epoch: number; accuracy: number; graph: Graph } | undefined;
  let stale = 0;
  const onEpoch = training.onEpoch;
  try {
    const history = await train(tf, model, data, (logits, b) => {
      const rows = new Float32Array(b.indices.length * classes);
      b.indices.forEach((i, k) => rows.set(cache!.subarray(i * classes, (i + 1) * classes), k * classes));
      // Cached teacher logits in the student's logits shape ([B, classes] or [B, T, vocab]).
      return distillationLoss(tf, logits, tf.tensor(rows, logits.shape, 'float32'), b.y, temperature, alpha);
    }, {
      ...training,
      onEpoch: (stats) => {
        if (val) {
          stats.valAccuracy = accuracyOn(tf, model, val);
          if (!best || stats.valAccuracy > best.accuracy) {
            best = { accuracy: stats.valAccuracy, epoch: stats.epoch, graph: model.toGraph() };
            stale = 0;
          } else stale++;
        }
        onEpoch?.(stats);
        return r.earlyStop !== undefined && stale >= r.earlyStop;
      },
    });
    const b = best as { epoch: number; accuracy: number; graph: Graph } | undefined;
    return { student: b ? b.graph : model.toGraph(), history, alpha, ...(b ? { best: { epoch: b.epoch, accuracy: b.accuracy } } : {}) };
  } finally {
    model.dispose();
  }
}
