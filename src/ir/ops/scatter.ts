// Ops that read or write elements at computed positions: ScatterElements, ScatterND and GatherND
// (ONNX's index-tensor ops), ReverseSequence, and BitShift. Negative indices count from the end
// of their axis everywhere, as ONNX defines.
import { EdgelmError } from '../../errors.js';
import { defineOp, ShapeError, type Tf, type TfTensor } from '../op.js';
import { broadcast, normAxis } from '../shape.js';

export type ScatterReduction = 'none' | 'add' | 'mul';
const REDUCTIONS: readonly string[] = ['none', 'add', 'mul'];

/** Largest [updates × data positions] mask the multiplying scatter builds (see scatterInto). */
const MAX_MUL_MASK = 1 << 24;

function checkReduction(r: string): void {
  if (!REDUCTIONS.includes(r)) throw new ShapeError(`reduction '${r}' is not one of ${REDUCTIONS.join(', ')}`);
}

/** Integer indices as int32 with negative entries wrapped: `dims` holds the size of each index component's axis. */
function wrapIndices(tf: Tf, idx: TfTensor, dims: number[]): TfTensor {
  const i = idx.dtype === 'int32' ? idx : tf.cast(idx, 'int32');
  const size = tf.tensor1d(dims, 'int32');
  return tf.where(tf.less(i, 0), tf.add(i, size), i);
}

/**
 * data with the slices `updates` written (or added, multiplied) at the positions `coords` ([..., k],
 * wrapped): the shared core of ScatterND and ScatterElements. TF.js's scatterND sums duplicates, which
 * is the ONNX add; a product of duplicates has no TF.js kernel, so mul builds a one-hot mask of every
 * update against every position and takes the product along the updates.
 */
function scatterInto(tf: Tf, data: TfTensor, coords: TfTensor, updates: TfTensor, reduction: string): TfTensor {
  if (reduction === 'none') return tf.tensorScatterUpdate(data, coords, updates);
  if (reduction === 'add') return tf.add(data, tf.scatterND(coords, updates, data.shape));
  const k = coords.shape[coords.rank - 1]!;
  const positions = data.shape.slice(0, k).reduce((p, d) => p * d, 1);
  const slice = data.shape.slice(k).reduce((p, d) => p * d, 1);
  const count = coords.size / k;
  if (count * positions * slice > MAX_MUL_MASK)
    throw new EdgelmError('unsupported', `scatter with reduction mul: ${count} updates × ${positions * slice} elements exceed the executor's mask limit (${MAX_MUL_MASK})`);
  const strides = data.shape.slice(0, k).map((_, j) => data.shape.slice(j + 1, k).reduce((p, d) => p * d, 1));
  const flat = tf.sum(tf.mul(tf.reshape(coords, [count, k]), tf.tensor1d(strides, 'int32')), 1);
  const hit = tf.equal(tf.reshape(flat, [count, 1, 1]), tf.reshape(tf.range(0, positions, 1, 'int32'), [1, positions, 1]));
  const factors = tf.where(hit, tf.reshape(updates, [count, 1, slice]), tf.onesLike(tf.reshape(updates, [count, 1, slice])));
  return tf.mul(data, tf.reshape(tf.prod(factors, 0), data.shape));
}

/** Full coordinates [..., rank] of every element of `idx` with `axis` replaced by its index value. */
function elementCoords(tf: Tf, idx: TfTensor, axis: number, axisSize: number): TfTensor {
  const wrapped = wrapIndices(tf, idx, [axisSize]);
  const coords = idx.shape.map((n, k) => {
    if (k === axis) return wrapped;
    const shape = idx.shape.map((_, j) => (j === k ? n : 1));
    return tf.broadcastTo(tf.reshape(tf.range(0, n, 1, 'int32'), shape), idx.shape);
  });
  return tf.stack(coords, idx.rank);
}

/** y = data with y[i0…idx[i0…ir]…ir] (reduction)= updates[i0…ir], the index replacing axis `axis`. */
export const scatterElements = defineOp({
  arity: [3, 3],
  attrs: { axis: 0, reduction: 'none' as ScatterReduction },
  infer: ([x, idx, upd], a) => {
    checkReduction(a.reduction);
    if (x!.shape.length !== idx!.shape.length) throw new ShapeError(`indices of rank ${idx!.shape.length} for data of rank ${x!.shape.length}`);
    if (idx!.shape.length !== upd!.shape.length) throw new ShapeError(`updates of rank ${upd!.shape.length} for indices of rank ${idx!.shape.length}`);
    normAxis(a.axis, x!.shape.length);
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  run: (tf, [x, idx, upd], a) => {
    const axis = normAxis(a.axis, x!.rank);
    const coords = elementCoords(tf, idx!, axis, x!.shape[axis]!);
    return [scatterInto(tf, x!, coords, upd!, a.reduction)];
  },
});

/** y = data with the slices updates[i…] written at data[indices[i…]] (reduction none, add or mul). */
export const scatterND = defineOp({
  arity: [3, 3],
  attrs: { reduction: 'none' as ScatterReduction },
  infer: ([x, idx, upd], a) => {
    checkReduction(a.reduction);
    const k = idx!.shape[idx!.shape.length - 1];
    if (typeof k !== 'number') throw new ShapeError("the indices' last dim must be static");
    if (k < 1 || k > x!.shape.length) throw new ShapeError(`index tuples of length ${k} for data of rank ${x!.shape.length}`);
    const want = [...idx!.shape.slice(0, -1), ...x!.shape.slice(k)];
    if (upd!.shape.length !== want.length) throw new ShapeError(`updates of rank ${upd!.shape.length}; want rank ${want.length}`);
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  run: (tf, [x, idx, upd], a) => {
    const k = idx!.shape[idx!.rank - 1]!;
    return [scatterInto(tf, x!, wrapIndices(tf, idx!, x!.shape.slice(0, k)), upd!, a.reduction)];
  },
});

/** y[b…, i…] = data[b…, indices[b…, i…]] with the first `batchDims` axes shared by data and indices. */
export const gatherND = defineOp({
  arity: [2, 2],
  attrs: { batchDims: 0 },
  infer: ([x, idx], a) => {
    const b = a.batchDims;
    const k = idx!.shape[idx!.shape.length - 1];
    if (typeof k !== 'number') throw new ShapeError("the indices' last dim must be static");
    if (b < 0 || b >= idx!.shape.length || b + k > x!.shape.length) throw new ShapeError(`batch_dims ${b} with index tuples of length ${k} for data of rank ${x!.shape.length}`);
    return [{ dtype: x!.dtype, shape: [...idx!.shape.slice(0, -1), ...x!.shape.slice(b + k)] }];
  },
  run: (tf, [x, idx], a) => {
    const b = a.batchDims;
    const k = idx!.shape[idx!.rank - 1]!;
    let coords = wrapIndices(tf, idx!, x!.shape.slice(b, b + k));
    if (b > 0) {
      // TF.js has no batch_dims: the batch positions become leading index components.
      const lead = idx!.shape.slice(0, -1);
      const batch = lead.slice(0, b).map((n, j) => tf.broadcastTo(tf.reshape(tf.range(0, n, 1, 'int32'), [...lead.map((_, i) => (i === j ? n : 1)), 1]), [...lead, 1]));
      coords = tf.concat([...batch, coords], -1);
    }
    return [tf.gatherND(x!, coords)];
  },
});

/** y = x with the first lens[b] elements along `timeAxis` reversed, for each b along `batchAxis`. */
export const reverseSequence = defineOp({
  arity: [2, 2],
  attrs: { batchAxis: 1, timeAxis: 0 },
  infer: ([x, lens], a) => {
    const r = x!.shape.length;
    if (r < 2) throw new ShapeError(`input of rank ${r}; ReverseSequence takes rank ≥ 2`);
    if (a.batchAxis === a.timeAxis || ![a.batchAxis, a.timeAxis].every((v) => v === 0 || v === 1)) throw new ShapeError(`batch_axis ${a.batchAxis} and time_axis ${a.timeAxis} must be 0 and 1`);
    if (lens!.shape.length !== 1) throw new ShapeError(`sequence_lens of rank ${lens!.shape.length}`);
    return [{ dtype: x!.dtype, shape: [...x!.shape] }];
  },
  run: (tf, [x, lens], a) => {
    // Batch-major view [B, T, …]; per (b, t) the source time step, then gatherND of the [b, t] pairs.
    const xs = a.batchAxis === 0 ? x! : tf.transpose(x!, [1, 0, ...x!.shape.slice(2).map((_, i) => i + 2)]);
    const [batch, time] = xs.shape as [number, number];
    const len = tf.reshape(lens!.dtype === 'int32' ? lens! : tf.cast(lens!, 'int32'), [batch, 1]);
    const t = tf.reshape(tf.range(0, time, 1, 'int32'), [1, time]);
    const src = tf.where(tf.less(t, len), tf.sub(tf.sub(len, tf.scalar(1, 'int32')), t), tf.broadcastTo(t, [batch, time]));
    const b = tf.broadcastTo(tf.reshape(tf.range(0, batch, 1, 'int32'), [batch, 1]), [batch, time]);
    const y = tf.gatherND(xs, tf.stack([b, tf.broadcastTo(src, [batch, time])], 2));
    return [a.batchAxis === 0 ? y : tf.transpose(y, [1, 0, ...x!.shape.slice(2).map((_, i) => i + 2)])];
  },
});

const SHIFT_BITS: Record<string, number> = { uint8: 8, uint16: 16 };

/**
 * y = x << s or x >> s for unsigned integers of `bits` bits (bits shifted out are lost). TF.js holds
 * them as int32 and has no shifts: x >> s = floor(x / 2^s), x << s = (x mod 2^(bits−s))·2^s, exact
 * below 2^31. `bits` is the dtype's width, set by the reader: run() sees int32 tensors only.
 */
export const bitShift = defineOp({
  arity: [2, 2],
  attrs: { direction: 'left' as 'left' | 'right', bits: 8 },
  infer: ([x, s], a) => {
    if (SHIFT_BITS[x!.dtype] !== a.bits || s!.dtype !== x!.dtype) throw new ShapeError(`${a.bits}-bit shift of ${x!.dtype} by ${s!.dtype}: edgelm shifts uint8 and uint16`);
    if (a.direction !== 'left' && a.direction !== 'right') throw new ShapeError(`direction '${a.direction}'`);
    return [{ dtype: x!.dtype, shape: broadcast(x!.shape, s!.shape) }];
  },
  run: (tf, [x, s], a) => {
    const shift = tf.minimum(s!, tf.scalar(a.bits, 'int32'));
    const pow = (e: TfTensor): TfTensor => tf.cast(tf.pow(tf.scalar(2, 'float32'), tf.cast(e, 'float32')), 'int32');
    if (a.direction === 'right') return [tf.floorDiv(x!, pow(shift))];
    return [tf.mul(tf.mod(x!, pow(tf.sub(tf.scalar(a.bits, 'int32'), shift))), pow(shift))];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const SCATTER_OPS = { scatterElements, scatterND, gatherND, reverseSequence, bitShift };
