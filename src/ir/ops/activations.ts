// Activations beyond the common ones (ONNX's definitions, attributes with ONNX's defaults), and the
// softmax relatives LogSoftmax and Hardmax.
import { defineOp, type Tf, type TfTensor } from '../op.js';
import { normAxis } from '../shape.js';
import { unary } from './elementwise.js';


/** x · clip(x/6 + 1/2, 0, 1) (ONNX HardSwish; TFLite HARD_SWISH computes x · relu6(x + 3)/6, the same function). */
export const hardSwish = unary((tf, x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1)));

/** clip(alpha·x + beta, 0, 1). */
export const hardSigmoid = defineOp({
  arity: [1, 1],
  attrs: { alpha: 0.2, beta: 0.5 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => [tf.clipByValue(tf.add(tf.mul(x!, a.alpha), a.beta), 0, 1)],
});

/** gamma·x for x > 0, gamma·alpha·(eˣ − 1) elsewhere (Klambauer et al. 2017; ONNX's constants). */
export const selu = defineOp({
  arity: [1, 1],
  attrs: { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => [tf.mul(a.gamma, tf.where(tf.greater(x!, 0), x!, tf.mul(a.alpha, tf.sub(tf.exp(x!), 1))))],
});

/** max(0, x) + min(0, alpha·(e^(x/alpha) − 1)) (Barron 2017). */
export const celu = defineOp({
  arity: [1, 1],
  attrs: { alpha: 1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => [tf.add(tf.relu(x!), tf.minimum(0, tf.mul(a.alpha, tf.sub(tf.exp(tf.div(x!, a.alpha)), 1))))],
});

/** x / (1 + |x|). */
export const softsign = unary((tf, x) => tf.div(x, tf.add(tf.abs(x), 1)));

/** x where x > alpha, else 0. */
export const thresholdedRelu = defineOp({
  arity: [1, 1],
  attrs: { alpha: 1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => [tf.where(tf.greater(x!, a.alpha), x!, tf.zerosLike(x!))],
});

/** x + bias below −lambd, x − bias above lambd, 0 between (ONNX Shrink). */
export const shrink = defineOp({
  arity: [1, 1],
  attrs: { bias: 0, lambd: 0.5 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => {
    const s = (v: number): TfTensor => tf.scalar(v, x!.dtype);
    return [tf.where(tf.less(x!, s(-a.lambd)), tf.add(x!, s(a.bias)), tf.where(tf.greater(x!, s(a.lambd)), tf.sub(x!, s(a.bias)), tf.zerosLike(x!)))];
  },
});

/** log(softmax(x)) along `axis`, as x − max − log Σ e^(x − max). */
export const logSoftmax = defineOp({
  arity: [1, 1],
  attrs: { axis: -1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => {
    const axis = normAxis(a.axis, x!.rank);
    const shifted = tf.sub(x!, tf.max(x!, axis, true));
    return [tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)))];
  },
});

/** 1 at the first maximum along `axis`, 0 elsewhere. */
export const hardmax = defineOp({
  arity: [1, 1],
  attrs: { axis: -1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => [hardmaxOf(tf, x!, normAxis(a.axis, x!.rank))],
});

function hardmaxOf(tf: Tf, x: TfTensor, axis: number): TfTensor {
  const first = tf.expandDims(tf.argMax(x, axis), axis);
  const positions = tf.reshape(tf.range(0, x.shape[axis]!, 1, 'int32'), x.shape.map((d, i) => (i === axis ? d : 1)));
  return tf.cast(tf.equal(first, positions), x.dtype);
}

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const ACTIVATION_OPS = { hardSwish, hardSigmoid, selu, celu, softsign, thresholdedRelu, shrink, logSoftmax, hardmax };
