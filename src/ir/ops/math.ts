// Math beyond arithmetic: trigonometric and hyperbolic functions, rounding, sign, NaN/Inf tests,
// logic on booleans, the inclusive comparisons and the remainder.
import { defineOp, type TfTensor } from '../op.js';
import { broadcast } from '../shape.js';
import { binary, unary } from './elementwise.js';

export const sin = unary((tf, x) => tf.sin(x));
export const cos = unary((tf, x) => tf.cos(x));
export const tan = unary((tf, x) => tf.tan(x));
export const asin = unary((tf, x) => tf.asin(x));
export const acos = unary((tf, x) => tf.acos(x));
export const atan = unary((tf, x) => tf.atan(x));
export const sinh = unary((tf, x) => tf.sinh(x));
export const cosh = unary((tf, x) => tf.cosh(x));
export const asinh = unary((tf, x) => tf.asinh(x));
export const acosh = unary((tf, x) => tf.acosh(x));
export const atanh = unary((tf, x) => tf.atanh(x));
export const floor = unary((tf, x) => tf.floor(x));
export const ceil = unary((tf, x) => tf.ceil(x));
export const sign = unary((tf, x) => tf.sign(x));

const boolOut = { arity: [1, 1] as [number, number], infer: ([x]: { shape: (number | string)[] }[]) => [{ dtype: 'bool' as const, shape: [...x!.shape] }] };

export const isNaN = defineOp({ ...boolOut, attrs: {}, run: (tf, [x]) => [tf.isNaN(x!)] });

/** x = +∞ (when detectPositive) or x = −∞ (when detectNegative). */
export const isInf = defineOp({
  ...boolOut,
  attrs: { detectPositive: true, detectNegative: true },
  run: (tf, [x], a) => {
    if (a.detectPositive && a.detectNegative) return [tf.isInf(x!)];
    if (a.detectPositive) return [tf.equal(x!, Infinity)];
    if (a.detectNegative) return [tf.equal(x!, -Infinity)];
    return [tf.cast(tf.zerosLike(x!), 'bool')];
  },
});

export const logicalNot = defineOp({ ...boolOut, attrs: {}, run: (tf, [x]) => [tf.logicalNot(x!)] });
export const logicalAnd = binary((tf, a, b) => tf.logicalAnd(a, b), 'bool');
export const logicalOr = binary((tf, a, b) => tf.logicalOr(a, b), 'bool');
export const logicalXor = binary((tf, a, b) => tf.logicalXor(a, b), 'bool');
export const greaterEqual = binary((tf, a, b) => tf.greaterEqual(a, b), 'bool');
export const lessEqual = binary((tf, a, b) => tf.lessEqual(a, b), 'bool');

/**
 * Remainder. fmod false: the sign of the divisor (Python's %, floor division); fmod true: the sign
 * of the dividend (C's fmod, truncating division), which is the floor remainder minus the divisor
 * where it is non-zero and the operands' signs differ — exact for integers.
 */
export const mod = defineOp({
  arity: [2, 2],
  attrs: { fmod: false },
  infer: ([a, b]) => [{ dtype: a!.dtype, shape: broadcast(a!.shape, b!.shape) }],
  run: (tf, [a, b], { fmod }) => {
    const floorMod = tf.mod(a!, b!);
    if (!fmod) return [floorMod];
    const zero = tf.scalar(0, a!.dtype);
    const differ: TfTensor = tf.logicalAnd(tf.notEqual(floorMod, zero), tf.notEqual(tf.less(a!, zero), tf.less(b!, zero)));
    return [tf.where(differ, tf.sub(floorMod, b!), floorMod)];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const MATH_OPS = { sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, floor, ceil, sign, isNaN, isInf, mod, logicalNot, logicalAnd, logicalOr, logicalXor, greaterEqual, lessEqual };
