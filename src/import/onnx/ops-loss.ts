// ONNX → IR for LayerNormalization (with its optional Mean / InvStdDev outputs) and the losses
// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, written as existing IR ops so that every
// writer carries them. Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { isStaticDim } from '../../ir/dim.js';
import { attrFloat, attrInt, attrStr, constTensor, emit, type OnnxCtx, type Translate } from './ctx.js';

const broken = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);
const node = (c: OnnxCtx, what: string): { name: string; source: string } => ({ name: `${c.name}/${what}`, source: c.name });
const scalar = (c: OnnxCtx, what: string, v: number): string =>
  c.b.addConstant({ name: `${c.name}/${what}`, dtype: 'float32', shape: [], data: Float32Array.of(v) });

/**
 * The fused layerNorm when only Y is used; with Mean or InvStdDev (statistics over the dims from
 * `axis` on, kept as size-1 dims) the same formula in reductions, so each statistic is a value.
 */
function layerNormalization(c: OnnxCtx): void {
  const axis = attrInt(c, 'axis', -1);
  const epsilon = attrFloat(c, 'epsilon', 1e-5);
  if (!c.outputs[1] && !c.outputs[2]) return void emit(c, 'layerNorm', [c.input(0), c.input(1), c.input(2)], { axis, epsilon });
  if (!c.input(0) || !c.input(1)) throw broken(c, 'needs inputs X and Scale');
  const x = c.typeOf(c.input(0));
  if (x.dtype !== 'float32') throw c.fail(`Mean / InvStdDev outputs of a ${x.dtype} input are not supported (float32 only)`);
  const rank = x.shape.length;
  const start = axis < 0 ? axis + rank : axis;
  if (start < 0 || start >= rank) throw c.fail(`axis ${axis} out of range for rank ${rank}`);
  const axes = Array.from({ length: rank - start }, (_, i) => start + i);
  const b = c.b;
  const mean = b.add1('reduceMean', [c.input(0)], { axes, keepDims: true }, node(c, 'mean'));
  const d = b.add1('sub', [c.input(0), mean], {}, node(c, 'centered'));
  const variance = b.add1('reduceMean', [b.add1('mul', [d, d], {}, node(c, 'squared'))], { axes, keepDims: true }, node(c, 'variance'));
  const inv = b.add1('rsqrt', [b.add1('add', [variance, scalar(c, 'epsilon', epsilon)], {}, node(c, 'variance_eps'))], {}, node(c, 'inv_std_dev'));
  let y = b.add1('mul', [b.add1('mul', [d, inv], {}, node(c, 'normalized')), c.input(1)], {}, node(c, 'scaled'));
  if (c.input(2)) y = b.add1('add', [y, c.input(2)], {}, node(c, 'biased'));
  c.bind(0, y);
  c.bind(1, mean);
  c.bind(2, inv);
}

/**
 * NegativeLogLikelihoodLoss on log-probabilities `logp` [N, C, d1 … dk] and class indices `target`
 * [N, d1 … dk]: loss = −logp[n, t, …]·w[t], 0 where t is ignore_index. The pick is a product with a
 * one-hot of the target over C (target == range(C)), so no gather of run-time indices is needed.
 * Returns the IR value of the reduced loss.
 */
function nll(c: OnnxCtx, logp: string, target: string, weight: string): string {
  if (!logp) throw broken(c, 'needs an input');
  const reduction = attrStr(c, 'reduction', 'mean');
  if (!['none', 'sum', 'mean'].includes(reduction)) throw c.fail(`reduction '${reduction}' is not supported`);
  const x = c.typeOf(logp);
  if (x.dtype !== 'float32') throw c.fail(`${x.dtype} scores are not supported (float32 only)`);
  const rank = x.shape.length;
  const classes = x.shape[1];
  if (rank < 2 || classes === undefined || !isStaticDim(classes)) throw c.fail(`needs an input of rank ≥ 2 with a static class dim (got [${x.shape}])`);
  // Measured: TF.js and LiteRT give wrong sums on the rank-7 suite cases; rank 6 is checked (test/import/onnx-losses.test.ts).
  if (rank > 6) throw c.fail(`inputs of rank ${rank} are not supported (rank 6 at most)`);
  if (!target) throw broken(c, 'needs a target input');
  if (c.typeOf(target).shape.length !== rank - 1) throw broken(c, `target of rank ${c.typeOf(target).shape.length} for scores of rank ${rank} (must be one less)`);
  const b = c.b;
  const perClass = Array.from({ length: rank }, (_, i) => (i === 1 ? classes : 1));
  const ids = b.add1('reshape', [b.add1('range', [], { start: 0, limit: classes, delta: 1, dtype: c.typeOf(target).dtype }, node(c, 'classes'))], { shape: perClass }, node(c, 'class_ids'));
  const hot = b.add1('equal', [b.add1('unsqueeze', [target], { axes: [1] }, node(c, 'target_c')), ids], {}, node(c, 'is_target'));
  // The weight of each element's class (1 without weights), 0 at ignored elements: [N, C, d…].
  let w = b.add1('cast', [hot], { to: 'float32' }, node(c, 'one_hot'));
  if (weight) w = b.add1('mul', [w, b.add1('reshape', [weight], { shape: perClass }, node(c, 'weight_c'))], {}, node(c, 'weighted'));
  const ii = c.attrs.get('ignore_index');
  if (typeof ii === 'number') {
    const iiValue = b.addConstant({ ...constTensor(c, c.typeOf(target).dtype, [], [ii]), name: `${c.name}/ignore_index` });
    const kept = b.add1('logicalNot', [b.add1('equal', [target, iiValue], {}, node(c, 'ignored'))], {}, node(c, 'not_ignored'));
    const keptC = b.add1('unsqueeze', [b.add1('cast', [kept], { to: 'float32' }, node(c, 'kept'))], { axes: [1] }, node(c, 'kept_c'));
    w = b.add1('mul', [w, keptC], {}, node(c, 'kept_weight'));
  }
  const picked = b.add1('reduceSum', [b.add1('mul', [logp, w], {}, node(c, 'picked_c'))], { axes: [1], keepDims: false }, node(c, 'picked'));
  const loss = b.add1('neg', [picked], {}, node(c, 'loss'));
  if (reduction === 'none') return loss;
  const total = b.add1('reduceSum', [loss], { axes: [], keepDims: false }, node(c, 'sum'));
  if (reduction === 'sum') return total;
  // mean: divided by the total weight of the elements not ignored.
  const wTotal = b.add1('reduceSum', [w], { axes: [], keepDims: false }, node(c, 'weight_sum'));
  return b.add1('div', [total, wTotal], {}, node(c, 'mean'));
}

export const LOSS_OPS: Record<string, Translate> = {
  LayerNormalization: layerNormalization,
  NegativeLogLikelihoodLoss: (c) => c.bind(0, nll(c, c.input(0), c.input(1), c.input(2))),
  SoftmaxCrossEntropyLoss: (c) => {
    // loss = NLL of log_softmax over the class dim; output 1 is that log_softmax.
    if (!c.input(0)) throw broken(c, 'needs a scores input');
    const logp = c.b.add1('logSoftmax', [c.input(0)], { axis: 1 }, node(c, 'log_prob'));
    c.bind(0, nll(c, logp, c.input(1), c.input(2)));
    c.bind(1, logp);
  },
};
