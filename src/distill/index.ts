// `distill` as a library function: a student trained on the teacher's softened logits (Hinton et al.
// 2015), the teacher in inference only with its logits cached once per sample.
import type { Dataset } from '../data/index.js';
import { fitToModel } from '../data/index.js';
import { VOCAB_KEY } from '../data/text.js';
import { usageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { reinitialize, scaleWidths } from '../prune/channels.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';
import { accuracyOn, train, type EpochStats, type TrainOptions } from '../train/loop.js';
import { distillationLoss } from '../train/losses.js';
import { logitsValue, TrainableModel } from '../train/model.js';

export interface DistillOptions {
  /** A student graph, or a width factor deriving one from the teacher. */
  student?: Graph;
  studentWidth?: number;
  reinit?: boolean;
  data: Dataset;
  temperature?: number;
  alpha?: number;
  val?: Dataset;
  earlyStop?: number;
  training: Omit<TrainOptions, 'afterStep'>;
  backend?: Backend;
}

export interface DistillResult {
  student: Graph;
  history: EpochStats[];
  /** With val data: the epoch whose student is returned, and its accuracy. */
  best?: { epoch: number; accuracy: number };
  alpha: number;
}

export async function distillModel(teacher: Graph, opts: DistillOptions): Promise<DistillResult> {
  if (!opts.student === (opts.studentWidth === undefined)) throw usageError('give exactly one of a student model and a student width');
  const temperature = opts.temperature ?? 2;
  if (!(temperature > 0)) throw usageError(`temperature must be positive, got ${temperature}`);
  let alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw usageError(`alpha must be in [0, 1], got ${alpha}`);
  if (opts.earlyStop !== undefined && !opts.val) throw usageError('early stopping needs validation data');
  const seed = opts.training.seed;
  let student = opts.student ?? scaleWidths(teacher, opts.studentWidth!, seed);
  if (opts.student && opts.reinit) student = reinitialize(student, seed);
  // A language-model student reads the teacher's tokens: it carries the teacher's vocabulary.
  if (teacher.metadata[VOCAB_KEY] !== undefined) student = { ...student, metadata: { ...student.metadata, [VOCAB_KEY]: teacher.metadata[VOCAB_KEY] } };
  const data = fitToModel(opts.data, teacher.inputs[0]!.shape);
  if (!data.y) alpha = 1; // no labels: the teacher is the only signal
  const val = opts.val ? fitToModel(opts.val, student.inputs[0]!.shape) : undefined;
  if (val && !val.y) throw usageError(`${val.source}: validation data needs labels`);
  const tf = await loadTf(opts.backend ?? 'wasm');

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
  const onEpoch = opts.training.onEpoch;
  try {
    const history = await train(tf, model, data, (logits, b) => {
      const rows = new Float32Array(b.indices.length * classes);
      b.indices.forEach((i, k) => rows.set(cache!.subarray(i * classes, (i + 1) * classes), k * classes));
      // Cached teacher logits in the student's logits shape ([B, classes] or [B, T, vocab]).
      return distillationLoss(tf, logits, tf.tensor(rows, logits.shape, 'float32'), b.y, temperature, alpha);
    }, {
      ...opts.training,
      onEpoch: (stats) => {
        if (val) {
          stats.valAccuracy = accuracyOn(tf, model, val);
          if (!best || stats.valAccuracy > best.accuracy) {
            best = { accuracy: stats.valAccuracy, epoch: stats.epoch, graph: model.toGraph() };
            stale = 0;
          } else stale++;
        }
        onEpoch?.(stats);
        return opts.earlyStop !== undefined && stale >= opts.earlyStop;
      },
    });
    const b = best as { epoch: number; accuracy: number; graph: Graph } | undefined;
    return { student: b ? b.graph : model.toGraph(), history, alpha, ...(b ? { best: { epoch: b.epoch, accuracy: b.accuracy } } : {}) };
  } finally {
    model.dispose();
  }
}
