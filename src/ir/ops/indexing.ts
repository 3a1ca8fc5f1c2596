// Ops that pick or repeat elements by position: Tile (repeat the whole tensor along each axis) and
// GatherElements (ONNX's per-element gather along one axis, numpy take_along_axis).
import { mulDims, type Dim } from '../dim.js';
import { defineOp, ShapeError, type TfTensor } from '../op.js';
import { normAxis } from '../shape.js';

/** y = x repeated `repeats[k]` times along axis k (ONNX Tile, numpy tile with one count per axis). */
export const tile = defineOp({
  arity: [1, 2],
  valueInputs: { inputs: { 1: 'repeats' }, rank: ([x]) => x!.shape.length },
  attrs: { repeats: [] as number[] },
  infer: ([x], a) => {
    if (a.repeats.length !== x!.shape.length) throw new ShapeError(`${a.repeats.length} repeats for a rank-${x!.shape.length} input`);
    return [{ dtype: x!.dtype, shape: x!.shape.map((d, k): Dim => mulDims(d, a.repeats[k]!)) }];
  },
  run: (tf, [x], a) => [a.repeats.every((r) => r === 1) ? x! : tf.tile(x!, a.repeats)],
});

/**
 * y[i0…ir] = x[i0…idx[i0…ir]…ir], the index replacing axis `axis`; y has the indices' shape, and a
 * negative index counts from the end of the axis.
 */
export const gatherElements = defineOp({
  arity: [2, 2],
  attrs: { axis: 0 },
  infer: ([x, idx], a) => {
    if (x!.shape.length !== idx!.shape.length) throw new ShapeError(`indices of rank ${idx!.shape.length} for data of rank ${x!.shape.length}`);
    normAxis(a.axis, x!.shape.length);
    return [{ dtype: x!.dtype, shape: [...idx!.shape] }];
  },
  run: (tf, [x, idx], a) => {
    const rank = x!.rank;
    const axis = normAxis(a.axis, rank);
    const i = idx!.dtype === 'int32' ? idx! : tf.cast(idx!, 'int32');
    const wrapped = tf.where(tf.less(i, 0), tf.add(i, tf.scalar(x!.shape[axis]!, 'int32')), i);
    // Full coordinates for gatherND: the element's own position on every axis but `axis`.
    const coords: TfTensor[] = idx!.shape.map((n, k) => {
      if (k === axis) return wrapped;
      const shape = idx!.shape.map((_, j) => (j === k ? n : 1));
      return tf.broadcastTo(tf.reshape(tf.range(0, n, 1, 'int32'), shape), idx!.shape);
    });
    return [tf.gatherND(x!, tf.stack(coords, rank))];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const INDEXING_OPS = { tile, gatherElements };
