// Reductions (mean, sum, max, min, product), index reductions, running sums.
// ReduceL1/L2/LogSum/LogSumExp/SumSquare have no op: the ONNX reader composes them from these.
import type { DType } from '../dtype.js';
import { defineOp, type Tf, type TfTensor } from '../op.js';
import { normAxis } from '../shape.js';

type Reducer = (tf: Tf, x: TfTensor, axes: number[], keep: boolean) => TfTensor;
export function reduction(fn: Reducer) {
  return defineOp({
    arity: [1, 1],
    /** axes [] reduces over every dim. */
    attrs: { axes: [] as number[], keepDims: false },
    infer: ([x], a) => {
      const r = x!.shape.length;
      const axes = a.axes.length ? a.axes.map((ax) => normAxis(ax, r)) : x!.shape.map((_, i) => i);
      const shape = x!.shape.flatMap((d, i) => (axes.includes(i) ? (a.keepDims ? [1] : []) : [d]));
      return [{ dtype: x!.dtype, shape }];
    },
    run: (tf, [x], a) => [fn(tf, x!, a.axes.length ? a.axes.map((ax) => normAxis(ax, x!.rank)) : x!.shape.map((_, i) => i), a.keepDims)],
  });
}

export const reduceMean = reduction((tf, x, axes, keep) => tf.mean(x, axes, keep));
export const reduceSum = reduction((tf, x, axes, keep) => tf.sum(x, axes, keep));
export const reduceMax = reduction((tf, x, axes, keep) => tf.max(x, axes, keep));
export const reduceMin = reduction((tf, x, axes, keep) => tf.min(x, axes, keep));

export const reduceProd = reduction((tf, x, axes, keep) => tf.prod(x, axes, keep));

/**
 * Index of the largest (argMax) or smallest (argMin) value along `axis`, as int64; ties give the
 * first index, or the last with selectLastIndex.
 */
function argReduction(max: boolean) {
  return defineOp({
    arity: [1, 1],
    attrs: { axis: 0, keepDims: true, selectLastIndex: false },
    infer: ([x], a) => {
      const axis = normAxis(a.axis, x!.shape.length);
      return [{ dtype: 'int64' as DType, shape: x!.shape.flatMap((d, i) => (i === axis ? (a.keepDims ? [1] : []) : [d])) }];
    },
    run: (tf, [x], a) => {
      const axis = normAxis(a.axis, x!.rank);
      const find = max ? tf.argMax : tf.argMin;
      // The last of equal values is the first in the reversed axis: n − 1 − its index there.
      let idx = a.selectLastIndex ? tf.sub(tf.scalar(x!.shape[axis]! - 1, 'int32'), find(tf.reverse(x!, axis), axis)) : find(x!, axis);
      if (a.keepDims) idx = tf.expandDims(idx, axis);
      return [idx];
    },
  });
}

export const argMax = argReduction(true);
export const argMin = argReduction(false);

/** Running sum along `axis`; exclusive leaves out the element itself, reverse runs from the end. */
export const cumSum = defineOp({
  arity: [1, 1],
  attrs: { axis: 0, exclusive: false, reverse: false },
  infer: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape] }],
  run: (tf, [x], a) => [tf.cumsum(x!, normAxis(a.axis, x!.rank), a.exclusive, a.reverse)],
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const REDUCE_OPS = { reduceMean, reduceSum, reduceMax, reduceMin, reduceProd, argMax, argMin, cumSum };
