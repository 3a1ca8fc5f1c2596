// Ops that move or select data without arithmetic, and casts (reductions are in reduce.ts).
import { DTYPES, type DType } from '../dtype.js';
import { defineOp, ShapeError } from '../op.js';
import { addDims, divDims, floorDivDim, isStaticDim, productDims, subDims, type Dim } from '../dim.js';
import { broadcast, formatShape, normAxis } from '../shape.js';

/** Shape after reshape: 0 copies the input's dim at that index, one −1 is inferred. */
export function reshapeTarget(input: readonly Dim[], target: readonly Dim[]): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 ? (input[i] === undefined ? bad() : input[i]!) : d));
  function bad(): never {
    throw new ShapeError(`reshape target [${target}] copies a dim (0) beyond input rank ${input.length}`);
  }
  const inferAt = out.indexOf(-1);
  if (out.lastIndexOf(-1) !== inferAt) throw new ShapeError(`reshape target [${target}] has more than one −1`);
  if (out.some((d) => isStaticDim(d) && (d < -1 || !Number.isInteger(d)))) throw new ShapeError(`reshape target [${target}] has an invalid dim`);
  // Dims copied from the input cancel out of the element count, known or not.
  const copied = new Set(target.flatMap((d, i) => (d === 0 ? [i] : [])));
  const inTotal = productDims(input.filter((_, i) => !copied.has(i)));
  const outTotal = productDims(out.filter((_, i) => i !== inferAt && !copied.has(i)));
  if (inferAt >= 0) {
    const q = divDims(inTotal, outTotal);
    if (q !== undefined) out[inferAt] = q;
    else if (isStaticDim(inTotal) && isStaticDim(outTotal)) throw new ShapeError(`cannot reshape ${inTotal} elements into [${target}]`);
    // Not divisible symbolically (a product the target regroups): exact at run time, opaque here.
    else out[inferAt] = isStaticDim(outTotal) ? floorDivDim(inTotal, outTotal) : `div((${inTotal}),(${outTotal}))`;
  } else if (isStaticDim(inTotal) && isStaticDim(outTotal) && inTotal !== outTotal) {
    throw new ShapeError(`cannot reshape ${formatShape(input)} into [${target}]`);
  }
  return out;
}

export const reshape = defineOp({
  arity: [1, 2],
  attrs: { shape: [] as Dim[] },
  dimAttrs: ['shape'],
  valueInputs: { inputs: { 1: 'shape' }, rank: (_, __, [n]) => n! },
  infer: ([x], a) => [{ dtype: x!.dtype, shape: reshapeTarget(x!.shape, a.shape) }],
  run: (tf, [x], a) => [tf.reshape(x!, (a.shape as number[]).map((d, i) => (d === 0 ? x!.shape[i]! : d)))],
});

export const transpose = defineOp({
  arity: [1, 1],
  attrs: { perm: [] as number[] },
  infer: ([x], a) => {
    const perm = a.perm.length ? a.perm : x!.shape.map((_, i) => x!.shape.length - 1 - i);
    if (perm.length !== x!.shape.length) throw new ShapeError(`perm [${perm}] does not match rank ${x!.shape.length}`);
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
  },
  run: (tf, [x], a) => [tf.transpose(x!, a.perm.length ? a.perm : undefined)],
});

export const concat = defineOp({
  arity: [1, Infinity],
  attrs: { axis: 0 },
  infer: (xs, a) => {
    const rank = xs[0]!.shape.length;
    const axis = normAxis(a.axis, rank);
    const shape = [...xs[0]!.shape];
    shape[axis] = xs.reduce<Dim>((s, x) => addDims(s, x.shape[axis]!), 0);
    return [{ dtype: xs[0]!.dtype, shape }];
  },
  run: (tf, xs, a) => [tf.concat(xs, a.axis)],
});

export const split = defineOp({
  arity: [1, 2],
  attrs: { axis: 0, sizes: [] as number[] },
  outputs: (a) => a.sizes.length,
  // Fed sizes: one output per size, each with its own run-time dims.
  valueInputs: { inputs: { 1: 'sizes' }, rank: ([x]) => x!.shape.length, outputs: (_, __, [n]) => n! },
  infer: ([x], a) => {
    const axis = normAxis(a.axis, x!.shape.length);
    const total = a.sizes.reduce((s, d) => s + d, 0);
    if (isStaticDim(x!.shape[axis]!) && x!.shape[axis] !== total)
      throw new ShapeError(`split sizes [${a.sizes}] do not add up to dim ${x!.shape[axis]}`);
    return a.sizes.map((d) => ({ dtype: x!.dtype, shape: x!.shape.map((s, i) => (i === axis ? d : s)) }));
  },
  run: (tf, [x], a) => tf.split(x!, a.sizes, a.axis),
});

/** Python-style strided slice along the listed axes (ONNX Slice semantics, ends clamped). */
export const slice = defineOp({
  arity: [1, 5],
  attrs: { starts: [] as Dim[], ends: [] as Dim[], axes: [] as number[], steps: [] as number[] },
  dimAttrs: ['starts', 'ends'],
  valueInputs: { inputs: { 1: 'starts', 2: 'ends', 3: 'axes', 4: 'steps' }, rank: ([x]) => x!.shape.length },
  infer: ([x], a) => {
    const shape = [...x!.shape];
    a.axes.forEach((ax, j) => {
      const axis = normAxis(ax, shape.length);
      shape[axis] = symbolicSliceLength(shape[axis]!, a.starts[j]!, a.ends[j]!, a.steps[j] ?? 1);
    });
    return [{ dtype: x!.dtype, shape }];
  },
  run: (tf, [x], attrs) => {
    const a = attrs as typeof attrs & { starts: number[]; ends: number[] };
    const rank = x!.rank;
    const begin = new Array<number>(rank).fill(0);
    const end = [...x!.shape];
    const strides = new Array<number>(rank).fill(1);
    a.axes.forEach((ax, j) => {
      const axis = normAxis(ax, rank);
      const [b, e, s] = sliceBounds(x!.shape[axis]!, a.starts[j]!, a.ends[j]!, a.steps[j] ?? 1);
      begin[axis] = b;
      end[axis] = e;
      strides[axis] = s;
    });
    // Negative ends after clamping (−1 = "before index 0" for negative steps) need the end mask.
    let endMask = 0;
    end.forEach((e, i) => {
      if (e < 0) endMask |= 1 << i;
    });
    return [tf.stridedSlice(x!, begin, end, strides, 0, endMask)];
  },
});

/** Clamped [begin, end, step] of a Python slice over a dim of size d; end −1 means "through index 0". */
export function sliceBounds(d: number, start: number, end: number, step: number): [number, number, number] {
  if (step === 0) throw new ShapeError('slice step 0');
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  let b = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    b = clamp(b, 0, d);
    e = clamp(e, 0, d);
  } else {
    b = clamp(b, -1, d - 1);
    e = clamp(e, -1, d - 1);
  }
  return [b, e, step];
}

/** Ends at or past this mean "to the end" (ONNX exporters write INT64_MAX, clamped to int32). */
const TO_END = 2147483647;

/**
 * Slice length where the dim or a bound is a run-time value. Exact for static operands; for
 * symbolic ones with step 1 it assumes the bounds lie inside the dim, as the exporters' slices do
 * (`x[:, -1]`, `cache[:seq]`, `mask[k − q : k]`); other cases are a derived symbol.
 */
export function symbolicSliceLength(d: Dim, start: Dim, end: Dim, step: number): Dim {
  if (isStaticDim(d) && isStaticDim(start) && isStaticDim(end)) return sliceLength(d, start, end, step);
  if (step !== 1) return `slice(${d},${start},${end},${step})`;
  const resolve = (v: Dim): Dim => (isStaticDim(v) ? (v >= TO_END ? d : v < 0 ? addDims(d, v) : v) : v);
  const len = subDims(resolve(end), resolve(start));
  return isStaticDim(len) ? Math.max(0, isStaticDim(d) ? Math.min(d, len) : len) : len;
}

export function sliceLength(d: number, start: number, end: number, step: number): number {
  const [b, e, s] = sliceBounds(d, start, end, step);
  return Math.max(0, Math.ceil((e - b) / s));
}

export const gather = defineOp({
  arity: [2, 2],
  attrs: { axis: 0 },
  infer: ([x, idx], a) => {
    const axis = normAxis(a.axis, x!.shape.length);
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)] }];
  },
  run: (tf, [x, idx], a) => {
    const axis = normAxis(a.axis, x!.rank);
    const i = idx!.dtype === 'int32' ? idx! : tf.cast(idx!, 'int32');
    // Negative indices count from the end, as in ONNX and numpy.
    const wrapped = tf.where(tf.less(i, 0), tf.add(i, tf.scalar(x!.shape[axis]!, 'int32')), i);
    return [tf.gather(x!, wrapped, axis)];
  },
});

export const squeeze = defineOp({
  arity: [1, 1],
  attrs: { axes: [] as number[] },
  infer: ([x], a) => {
    const axes = a.axes.length ? a.axes.map((ax) => normAxis(ax, x!.shape.length)) : x!.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const ax of axes) if (x!.shape[ax] !== 1 && isStaticDim(x!.shape[ax]!)) throw new ShapeError(`cannot squeeze axis ${ax} of size ${x!.shape[ax]}`);
    return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !axes.includes(i)) }];
  },
  run: (tf, [x], a) => [tf.squeeze(x!, a.axes.length ? a.axes.map((ax) => normAxis(ax, x!.rank)) : undefined)],
});

/** Inserts size-1 dims at `axes` (positions in the output). */
export const unsqueeze = defineOp({
  arity: [1, 1],
  attrs: { axes: [] as number[] },
  infer: ([x], a) => [{ dtype: x!.dtype, shape: unsqueezeShape(x!.shape, a.axes) }],
  run: (tf, [x], a) => [tf.reshape(x!, unsqueezeShape(x!.shape, a.axes) as number[])],
});

export function unsqueezeShape(shape: readonly Dim[], axes: readonly number[]): Dim[] {
  const rank = shape.length + axes.length;
  const at = new Set(axes.map((ax) => normAxis(ax, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : shape[j++]!);
  return out;
}

/** Pads: [begin_0, …, begin_{r−1}, end_0, …, end_{r−1}] (ONNX order). */
export const pad = defineOp({
  arity: [1, 3],
  valueInputs: { inputs: { 1: 'pads', 2: 'value' }, rank: ([x]) => x!.shape.length },
  attrs: { pads: [] as number[], mode: 'constant' as 'constant' | 'reflect', value: 0 },
  infer: ([x], a) => {
    const r = x!.shape.length;
    if (a.pads.length !== 2 * r) throw new ShapeError(`pads [${a.pads}] need ${2 * r} entries for rank ${r}`);
    return [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => addDims(d, a.pads[i]! + a.pads[i + r]!)) }];
  },
  run: (tf, [x], a) => {
    const r = x!.rank;
    const p = Array.from({ length: r }, (_, i) => [a.pads[i]!, a.pads[i + r]!] as [number, number]);
    return [a.mode === 'reflect' ? tf.mirrorPad(x!, p, 'reflect') : tf.pad(x!, p, a.value)];
  },
});

/** TF.js knows float32, int32 and bool; every IR dtype maps onto one of them at run time. */
export function tfDType(d: DType): 'float32' | 'int32' | 'bool' {
  if (d === 'bool') return 'bool';
  return DTYPES[d].float ? 'float32' : 'int32';
}

export const cast = defineOp({
  arity: [1, 1],
  attrs: { to: 'float32' as DType },
  infer: ([x], a) => [{ dtype: a.to, shape: [...x!.shape] }],
  run: (tf, [x], a) => [tf.cast(x!, tfDType(a.to))],
});

/** The shape of a tensor as int32. Readers fold it away wherever the shape is static. */
export const shape = defineOp({
  arity: [1, 1],
  attrs: {},
  infer: ([x]) => [{ dtype: 'int32', shape: [x!.shape.length] }],
  run: (tf, [x]) => [tf.tensor1d(x!.shape, 'int32')],
});

/** Broadcasts to a shape (numpy rules; the result has the larger of each dim). */
export const expand = defineOp({
  arity: [1, 2],
  attrs: { shape: [] as Dim[] },
  dimAttrs: ['shape'],
  valueInputs: { inputs: { 1: 'shape' }, rank: ([x], _, [n]) => Math.max(x!.shape.length, n!) },
  infer: ([x], a) => [{ dtype: x!.dtype, shape: broadcast(x!.shape, a.shape) }],
  run: (tf, [x], a) => [tf.broadcastTo(x!, broadcast(x!.shape, a.shape) as number[])],
});

/** A small integer tensor whose elements are dims (a shape computed from run-time dims). */
export const dimValues = defineOp({
  arity: [0, 0],
  attrs: { values: [] as Dim[], shape: [] as number[], dtype: 'int64' as DType },
  dimAttrs: ['values'],
  infer: (_, a) => [{ dtype: a.dtype, shape: [...a.shape] }],
  run: (tf, _, a) => [tf.tensor(a.values as number[], a.shape, tfDType(a.dtype) === 'float32' ? 'float32' : 'int32')],
});

/** start, start + delta, … up to limit (exclusive), as ONNX Range; bounds may be run-time dims. */
export const range = defineOp({
  arity: [0, 3],
  valueInputs: { inputs: { 0: 'start', 1: 'limit', 2: 'delta' }, rank: () => 1 },
  attrs: { start: 0 as Dim, limit: 0 as Dim, delta: 1, dtype: 'int64' as DType },
  dimAttrs: ['start', 'limit'],
  infer: (_, a) => {
    const span = subDims(a.limit, a.start);
    const n = isStaticDim(span) ? Math.max(0, Math.ceil(span / a.delta)) : a.delta === 1 ? span : `range(${a.start},${a.limit},${a.delta})`;
    return [{ dtype: a.dtype, shape: [n] }];
  },
  run: (tf, _, attrs) => {
    const a = attrs as typeof attrs & { start: number; limit: number };
    return [tf.range(a.start, a.limit, a.delta, tfDType(a.dtype) === 'float32' ? 'float32' : 'int32')];
  },
});

/** A tensor of one value (ONNX ConstantOfShape) whose shape may hold run-time dims. */
export const fill = defineOp({
  arity: [0, 1],
  valueInputs: { inputs: { 0: 'shape' }, rank: (_, __, [n]) => n! },
  attrs: { shape: [] as Dim[], value: 0, dtype: 'float32' as DType },
  dimAttrs: ['shape'],
  infer: (_, a) => [{ dtype: a.dtype, shape: [...a.shape] }],
  run: (tf, _, a) => {
    const dt = tfDType(a.dtype);
    return [tf.fill(a.shape as number[], dt === 'bool' ? Number(a.value !== 0) : a.value, dt === 'bool' ? 'bool' : dt)];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const STRUCTURE_OPS = { reshape, transpose, concat, split, slice, gather, squeeze, unsqueeze, pad, cast, shape, expand, range, fill, dimValues };
