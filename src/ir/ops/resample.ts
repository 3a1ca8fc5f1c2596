// Ops that move pixels: Resize (ONNX's nearest, N-linear and cubic interpolation, every coordinate
// transform), and DepthToSpace / SpaceToDepth on NCHW values.
import { EdgelmError } from '../../errors.js';
import type { Node } from '../graph.js';
import { defineOp, ShapeError, type Tf, type TfTensor } from '../op.js';
import { divDims, mulDims, type Dim } from '../dim.js';

export type ResizeMode = 'nearest' | 'linear' | 'cubic';
export type CoordinateMode = 'half_pixel' | 'half_pixel_symmetric' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';

export const resizeAttrs = {
  /** Output size of every axis. */
  sizes: [] as Dim[],
  /** Scale of every axis in the coordinate transform; 0 = output size / input size (sizes were given). */
  scales: [] as number[],
  mode: 'nearest' as ResizeMode,
  coordinateMode: 'half_pixel' as CoordinateMode,
  nearestMode: 'round_prefer_floor' as NearestMode,
  cubicCoeffA: -0.75,
  excludeOutside: false,
  extrapolationValue: 0,
  /** tf_crop_and_resize: [start_0 … start_{r−1}, end_0 … end_{r−1}], normalized. */
  roi: [] as number[],
  /** With run-time roi, scales or sizes (value inputs 1–3): the axes their values are for; [] = every axis. */
  axes: [] as number[],
};
export type ResizeAttrs = typeof resizeAttrs;

/**
 * How one axis is resampled: output i = Σ_k weights[k][i]·x[taps[k][i]], or `extrapolationValue`
 * where `outside[i]` (tf_crop_and_resize beyond the input). Computed in double from ONNX's
 * definitions (onnx/backend/test/case/node/resize.py): taps are clamped to the input (edge padding).
 */
export interface AxisTable {
  taps: Int32Array[];
  weights: Float32Array[];
  outside: Uint8Array;
}

/** The sampling table of `axis` from `inSize` to `outSize`; undefined when the axis is unchanged. */
export function axisTable(a: ResizeAttrs, axis: number, inSize: number, outSize: number): AxisTable | undefined {
  const given = a.scales[axis] ?? 0;
  const scale = given || outSize / inSize;
  const start = a.roi[axis] ?? 0;
  const end = a.roi[axis + a.sizes.length] ?? 1;
  const crop = a.coordinateMode === 'tf_crop_and_resize';
  if (scale === 1 && outSize === inSize && (!crop || (start === 0 && end === 1))) return undefined;
  // The definition's output width is scale·input (not the rounded size) where scales are given.
  const outWidth = scale * inSize;
  const n = a.mode === 'nearest' ? 1 : a.mode === 'linear' ? 2 : 4;
  const table: AxisTable = { taps: [], weights: [], outside: new Uint8Array(outSize) };
  for (let k = 0; k < n; k++) {
    table.taps.push(new Int32Array(outSize));
    table.weights.push(new Float32Array(outSize));
  }
  const clamp = (i: number): number => Math.min(Math.max(i, 0), inSize - 1);
  for (let i = 0; i < outSize; i++) {
    const x = sourceCoordinate(a.coordinateMode, i, scale, inSize, outSize, outWidth, start, end);
    if (crop && (x < 0 || x > inSize - 1)) {
      table.outside[i] = 1;
      continue;
    }
    const base = Math.floor(x);
    const ratio = x - base;
    if (a.mode === 'nearest') {
      table.taps[0]![i] = clamp(base + (nearestUp(a.nearestMode, ratio) ? 1 : 0));
      table.weights[0]![i] = 1;
      continue;
    }
    const coeffs = a.mode === 'linear' ? [1 - ratio, ratio] : cubicCoeffs(ratio, a.cubicCoeffA);
    const first = a.mode === 'linear' ? base : base - 1;
    if (a.excludeOutside) {
      coeffs.forEach((_, k) => {
        if (first + k < 0 || first + k >= inSize) coeffs[k] = 0;
      });
      const sum = coeffs.reduce((p, c) => p + c, 0);
      coeffs.forEach((c, k) => (coeffs[k] = c / sum));
    }
    coeffs.forEach((c, k) => {
      table.taps[k]![i] = clamp(first + k);
      table.weights[k]![i] = c;
    });
  }
  return table;
}

/** Where output index i samples the input (ONNX Resize's coordinate_transformation_mode). */
function sourceCoordinate(mode: CoordinateMode, i: number, scale: number, inSize: number, outSize: number, outWidth: number, start: number, end: number): number {
  switch (mode) {
    case 'half_pixel':
      return (i + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adjustment = outSize / outWidth;
      const offset = (inSize / 2) * (1 - adjustment);
      return offset + (i + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel':
      return outWidth === 1 ? -0.5 : (i + 0.5) / scale - 0.5;
    case 'align_corners':
      return outWidth === 1 ? 0 : (i * (inSize - 1)) / (outWidth - 1);
    case 'asymmetric':
      return i / scale;
    case 'tf_half_pixel_for_nn':
      return (i + 0.5) / scale;
    case 'tf_crop_and_resize':
      return (outWidth === 1 ? ((end - start) * (inSize - 1)) / 2 : (i * (end - start) * (inSize - 1)) / (outWidth - 1)) + start * (inSize - 1);
  }
}

/** Whether nearest picks the upper neighbour of a sample `ratio` past the lower one. */
function nearestUp(mode: NearestMode, ratio: number): boolean {
  if (ratio === 0) return false;
  if (mode === 'round_prefer_floor') return ratio > 0.5;
  if (mode === 'round_prefer_ceil') return ratio >= 0.5;
  return mode === 'ceil';
}

/** Keys' cubic convolution weights of the taps at −1, 0, 1, 2 around the sample (coefficient A). */
function cubicCoeffs(r: number, A: number): number[] {
  const far = (t: number): number => ((A * t - 5 * A) * t + 8 * A) * t - 4 * A; // 1 < t < 2
  const near = (t: number): number => ((A + 2) * t - (A + 3)) * t * t + 1; // t ≤ 1
  return [far(r + 1), near(r), near(1 - r), far(2 - r)];
}

/** One axis resampled with TF.js: gathers of the taps, weighted and summed. */
function resampleAxis(tf: Tf, x: TfTensor, axis: number, t: AxisTable, extrapolation: number): TfTensor {
  const along = (v: Float32Array | Uint8Array): TfTensor => tf.reshape(tf.tensor(v, [v.length], v instanceof Uint8Array ? 'bool' : 'float32'), x.shape.map((d, i) => (i === axis ? v.length : 1)));
  const picked = t.taps.map((idx) => tf.gather(x, tf.tensor1d(idx, 'int32'), axis));
  let y = picked.length === 1 ? picked[0]! : picked.map((p, k) => tf.mul(p, along(t.weights[k]!))).reduce((s, p) => tf.add(s, p));
  if (t.outside.some((o) => o)) y = tf.where(tf.broadcastTo(along(t.outside), y.shape), tf.fill(y.shape, extrapolation, y.dtype), y);
  return y;
}

/**
 * A resize whose roi, scales or sizes were fed (ONNX's per-listed-axis values): the per-axis roi,
 * scales and sizes `run` takes, a scaled size being floor(dim · roi span · scale) as ONNX defines.
 */
export function resolveResize(a: ResizeAttrs, [shape]: number[][], node: Node): ResizeAttrs {
  const bad = (what: string): EdgelmError => new EdgelmError('input', `node ${node.name} (resize): ${what}`);
  const rank = shape!.length;
  const axes = a.axes.length ? a.axes : shape!.map((_, i) => i);
  const crop = a.coordinateMode === 'tf_crop_and_resize';
  const roi = crop ? [...new Array<number>(rank).fill(0), ...new Array<number>(rank).fill(1)] : [];
  if (crop) {
    if (a.roi.length !== 2 * axes.length) throw bad(`tf_crop_and_resize needs 2 roi values per axis, got ${a.roi.length} for ${axes.length} axes`);
    axes.forEach((ax, j) => ([roi[ax], roi[ax + rank]] = [a.roi[j]!, a.roi[j + axes.length]!]));
  }
  const scales = new Array<number>(rank).fill(1);
  const sizes = [...shape!];
  const given = a.scales.length ? a.scales : a.sizes;
  if (given.length !== axes.length) throw bad(`${a.scales.length ? 'scales' : 'sizes'} hold ${given.length} values for ${axes.length} axes`);
  axes.forEach((ax, j) => {
    const d = shape![ax]!;
    if (!a.scales.length) {
      sizes[ax] = a.sizes[j] as number;
      scales[ax] = sizes[ax] === d && !crop ? 1 : 0;
      return;
    }
    const s = a.scales[j]!;
    if (!(s > 0)) throw bad(`scale ${s} is not positive`);
    scales[ax] = s;
    const span = crop ? roi[ax + rank]! - roi[ax]! : 1;
    if (s !== 1 || span !== 1) sizes[ax] = Math.floor(d * span * s);
  });
  if (sizes.some((d) => d < 1)) throw bad(`resize to an empty shape [${sizes.join(', ')}]`);
  return { ...a, roi, scales, sizes };
}

export const resize = defineOp({
  arity: [1, 4],
  attrs: resizeAttrs,
  dimAttrs: ['sizes'],
  valueInputs: { inputs: { 1: 'roi', 2: 'scales', 3: 'sizes' }, rank: ([x]) => x!.shape.length, resolve: resolveResize },
  infer: ([x], a) => {
    if (a.sizes.length !== x!.shape.length) throw new ShapeError(`resize to ${a.sizes.length} sizes of a rank-${x!.shape.length} input`);
    return [{ dtype: x!.dtype, shape: [...a.sizes] }];
  },
  run: (tf, [x], a) => {
    let y = x!;
    (a.sizes as number[]).forEach((out, axis) => {
      const table = axisTable(a, axis, x!.shape[axis]!, out);
      if (table) y = resampleAxis(tf, y, axis, table, a.extrapolationValue);
    });
    return [y];
  },
});

export type DepthToSpaceMode = 'DCR' | 'CRD';

/** The 6-D view, permutation and result of DepthToSpace on [N, C, H, W] (ONNX's definition). */
export function depthToSpacePlan(shape: readonly Dim[], b: number, mode: DepthToSpaceMode): { view: Dim[]; perm: number[]; out: Dim[] } {
  const [n, c, h, w] = shape as [Dim, Dim, Dim, Dim];
  const cOut = divDims(c, b * b);
  if (shape.length !== 4 || cOut === undefined) throw new ShapeError(`depthToSpace needs a 4-D NCHW input whose channels divide by ${b * b}, got [${shape.join(', ')}]`);
  const out = [n, cOut, mulDims(h, b), mulDims(w, b)];
  if (mode === 'DCR') return { view: [n, b, b, cOut, h, w], perm: [0, 3, 4, 1, 5, 2], out };
  return { view: [n, cOut, b, b, h, w], perm: [0, 1, 4, 2, 5, 3], out };
}

/** The 6-D view, permutation and result of SpaceToDepth on [N, C, H, W]: channel (i·b + j)·C + c. */
export function spaceToDepthPlan(shape: readonly Dim[], b: number): { view: Dim[]; perm: number[]; out: Dim[] } {
  const [n, c, h, w] = shape as [Dim, Dim, Dim, Dim];
  const [ho, wo] = [divDims(h, b), divDims(w, b)];
  if (shape.length !== 4 || ho === undefined || wo === undefined) throw new ShapeError(`spaceToDepth needs a 4-D NCHW input whose height and width divide by ${b}, got [${shape.join(', ')}]`);
  return { view: [n, c, ho, b, wo, b], perm: [0, 3, 5, 1, 2, 4], out: [n, mulDims(c, b * b), ho, wo] };
}

const rearrange = (tf: Tf, x: TfTensor, p: { view: Dim[]; perm: number[]; out: Dim[] }): TfTensor =>
  tf.reshape(tf.transpose(tf.reshape(x, p.view as number[]), p.perm), p.out as number[]);

export const depthToSpace = defineOp({
  arity: [1, 1],
  attrs: { blockSize: 2, mode: 'DCR' as DepthToSpaceMode },
  infer: ([x], a) => [{ dtype: x!.dtype, shape: depthToSpacePlan(x!.shape, a.blockSize, a.mode).out }],
  run: (tf, [x], a) => [rearrange(tf, x!, depthToSpacePlan(x!.shape, a.blockSize, a.mode))],
});

export const spaceToDepth = defineOp({
  arity: [1, 1],
  attrs: { blockSize: 2 },
  infer: ([x], a) => [{ dtype: x!.dtype, shape: spaceToDepthPlan(x!.shape, a.blockSize).out }],
  run: (tf, [x], a) => [rearrange(tf, x!, spaceToDepthPlan(x!.shape, a.blockSize))],
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const RESAMPLE_OPS = { resize, depthToSpace, spaceToDepth };
