// Elementwise ops: unary activations and math, and broadcasting binary ops.
import { defineOp, type OpDef, type Tf, type TfTensor } from '../op.js';
import { broadcast } from '../shape.js';

type Unary = (tf: Tf, x: TfTensor) => TfTensor;

export function unary(fn: Unary): OpDef<Record<string, never>> {
  return defineOp({
    arity: [1, 1],
    attrs: {},
    infer: ([x]) => [{ ...x! }],
    run: (tf, [x]) => [fn(tf, x!)],
  });
}

const SQRT1_2 = Math.SQRT1_2;
const GELU_TANH_C = Math.sqrt(2 / Math.PI);

export const relu = unary((tf, x) => tf.relu(x));
export const relu6 = unary((tf, x) => tf.relu6(x));
export const sigmoid = unary((tf, x) => tf.sigmoid(x));
export const tanh = unary((tf, x) => tf.tanh(x));
export const erf = unary((tf, x) => tf.erf(x));
export const abs = unary((tf, x) => tf.abs(x));
export const neg = unary((tf, x) => tf.neg(x));
export const exp = unary((tf, x) => tf.exp(x));
export const log = unary((tf, x) => tf.log(x));
export const sqrt = unary((tf, x) => tf.sqrt(x));
export const rsqrt = unary((tf, x) => tf.rsqrt(x));
export const square = unary((tf, x) => tf.square(x));
export const reciprocal = unary((tf, x) => tf.reciprocal(x));
export const softplus = unary((tf, x) => tf.softplus(x));
export const identity = unary((_tf, x) => x.clone());
/** Round half to even (ONNX Round, TF.js tf.round and TFLite ROUND all round ties to even). */
export const round = unary((tf, x) => tf.round(x));
/** x · sigmoid(x), a.k.a. SiLU. */
export const swish = unary((tf, x) => tf.mul(x, tf.sigmoid(x)));

export const elu = defineOp({
  arity: [1, 1],
  attrs: { alpha: 1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], { alpha }) =>
    alpha === 1 ? [tf.elu(x!)] : [tf.where(tf.greater(x!, 0), x!, tf.mul(alpha, tf.sub(tf.exp(x!), 1)))],
});

export const leakyRelu = defineOp({
  arity: [1, 1],
  attrs: { alpha: 0.2 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], { alpha }) => [tf.leakyRelu(x!, alpha)],
});

/** Clamp to [min, max]; ±Infinity for an open side. */
export const clip = defineOp({
  arity: [1, 1],
  attrs: { min: -Infinity, max: Infinity },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], { min, max }) => {
    if (x!.dtype === 'float32') return [tf.clipByValue(x!, min, max)];
    // Integer clips compare exactly: clipByValue casts infinite bounds into the integer range wrongly.
    let y = x!;
    if (min !== -Infinity) y = tf.maximum(y, tf.scalar(min, y.dtype));
    if (max !== Infinity) y = tf.minimum(y, tf.scalar(max, y.dtype));
    return [y];
  },
});

/** GELU, exact (erf) or with the tanh approximation (Hendrycks & Gimpel 2016). */
export const gelu = defineOp({
  arity: [1, 1],
  attrs: { approximate: 'none' as 'none' | 'tanh' },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], { approximate }) => {
    const inner =
      approximate === 'tanh'
        ? tf.tanh(tf.mul(GELU_TANH_C, tf.add(x!, tf.mul(0.044715, tf.pow(x!, 3)))))
        : tf.erf(tf.mul(x!, SQRT1_2));
    return [tf.mul(tf.mul(x!, 0.5), tf.add(inner, 1))];
  },
});

/** PReLU: x where x > 0, alpha·x elsewhere; alpha broadcasts against x. */
export const prelu = defineOp({
  arity: [2, 2],
  attrs: {},
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x, alpha]) => [tf.add(tf.relu(x!), tf.mul(alpha!, tf.neg(tf.relu(tf.neg(x!)))))],
});

type Binary = (tf: Tf, a: TfTensor, b: TfTensor) => TfTensor;

export function binary(fn: Binary, resultDType?: 'bool'): OpDef<Record<string, never>> {
  return defineOp({
    arity: [2, 2],
    attrs: {},
    infer: ([a, b]) => [{ dtype: resultDType ?? a!.dtype, shape: broadcast(a!.shape, b!.shape) }],
    run: (tf, [a, b]) => [fn(tf, a!, b!)],
  });
}

export const add = binary((tf, a, b) => tf.add(a, b));
export const sub = binary((tf, a, b) => tf.sub(a, b));
export const mul = binary((tf, a, b) => tf.mul(a, b));
export const div = binary((tf, a, b) => (a.dtype === 'int32' ? tf.floorDiv(a, b) : tf.div(a, b)));
export const pow = binary((tf, a, b) => tf.pow(a, b));
export const maximum = binary((tf, a, b) => tf.maximum(a, b));
export const minimum = binary((tf, a, b) => tf.minimum(a, b));
export const equal = binary((tf, a, b) => tf.equal(a, b), 'bool');
export const less = binary((tf, a, b) => tf.less(a, b), 'bool');
export const greater = binary((tf, a, b) => tf.greater(a, b), 'bool');

/** where(cond, a, b): a where cond is true, else b, with broadcasting. */
export const where = defineOp({
  arity: [3, 3],
  attrs: {},
  infer: ([c, a, b]) => [{ dtype: a!.dtype, shape: broadcast(c!.shape, broadcast(a!.shape, b!.shape)) }],
  run: (tf, [c, a, b]) => {
    const shape = broadcastShape(c!.shape, broadcastShape(a!.shape, b!.shape));
    return [tf.where(tf.broadcastTo(tf.cast(c!, 'bool'), shape), tf.broadcastTo(a!, shape), tf.broadcastTo(b!, shape))];
  },
});

function broadcastShape(a: number[], b: number[]): number[] {
  return broadcast(a, b) as number[];
}

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const ELEMENTWISE_OPS = { relu, relu6, sigmoid, tanh, erf, abs, neg, exp, log, sqrt, rsqrt, square, reciprocal, softplus, identity, round, swish, elu, leakyRelu, clip, gelu, prelu, add, sub, mul, div, pow, maximum, minimum, equal, less, greater, where };
