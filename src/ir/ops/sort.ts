// Selection along an axis: TopK (values and int64 indices of the k largest or smallest).
import type { DType } from '../dtype.js';
import { defineOp, ShapeError } from '../op.js';
import { normAxis } from '../shape.js';

/**
 * The k largest (or smallest) values along `axis`, sorted (best first), and their indices as
 * int64; equal values keep their order (the lower index first). k is static.
 */
export const topK = defineOp({
  arity: [1, 1],
  attrs: { k: 1, axis: -1, largest: true },
  outputs: () => 2,
  infer: ([x], a) => {
    const axis = normAxis(a.axis, x!.shape.length);
    const n = x!.shape[axis]!;
    if (!Number.isInteger(a.k) || a.k < 0 || (typeof n === 'number' && a.k > n)) throw new ShapeError(`k = ${a.k} is not within the axis size ${n}`);
    const shape = x!.shape.map((d, i) => (i === axis ? a.k : d));
    return [{ dtype: x!.dtype, shape }, { dtype: 'int64' as DType, shape: [...shape] }];
  },
  run: (tf, [x], a) => {
    const rank = x!.rank;
    const axis = normAxis(a.axis, rank);
    // tf.topk works on the last axis: move `axis` there and back.
    const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis).concat(axis);
    const back = perm.map((_, i) => perm.indexOf(i));
    const moved = axis === rank - 1 ? x! : tf.transpose(x!, perm);
    const { values, indices } = tf.topk(a.largest ? moved : tf.neg(moved), a.k, true);
    const v = a.largest ? values : tf.neg(values);
    return axis === rank - 1 ? [v, indices] : [tf.transpose(v, back), tf.transpose(indices, back)];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const SORT_OPS = { topK };
