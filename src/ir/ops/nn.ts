// Spatial and dense ops. Activations carry their layout (NHWC or NCHW) explicitly; weights are in
// TF's layout whatever the source: conv [kh, kw, in/group, out], depthwise [kh, kw, in, multiplier],
// transposed conv [kh, kw, out, in], dense [in, out].
import { defineOp, ShapeError, type Tf, type TfTensor, type ValueType } from '../op.js';
import { broadcastDim, normAxis, windowOut } from '../shape.js';
import { addDims, mulDims, subDims, type Dim } from '../dim.js';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';

export type Layout = 'NHWC' | 'NCHW';
export type Padding = 'SAME' | 'VALID' | 'EXPLICIT';

const spatialAttrs = {
  layout: 'NHWC' as Layout,
  strides: [1, 1],
  dilations: [1, 1],
  padding: 'VALID' as Padding,
  /** [top, left, bottom, right], used when padding is EXPLICIT. */
  pads: [0, 0, 0, 0],
};
type SpatialAttrs = typeof spatialAttrs;

/** [N, H, W, C] view of a 4-D shape in the given layout. */
function nhwc(shape: readonly Dim[], layout: Layout): [Dim, Dim, Dim, Dim] {
  if (shape.length !== 4) throw new ShapeError(`expected a 4-D input, got rank ${shape.length}`);
  const [a, b, c, d] = shape as [Dim, Dim, Dim, Dim];
  return layout === 'NHWC' ? [a, b, c, d] : [a, c, d, b];
}
function fromNhwc(s: [Dim, Dim, Dim, Dim], layout: Layout): Dim[] {
  return layout === 'NHWC' ? [...s] : [s[0], s[3], s[1], s[2]];
}
const toNhwcT = (tf: Tf, x: TfTensor, layout: Layout): TfTensor => (layout === 'NHWC' ? x : tf.transpose(x, [0, 2, 3, 1]));
const fromNhwcT = (tf: Tf, x: TfTensor, layout: Layout): TfTensor => (layout === 'NHWC' ? x : tf.transpose(x, [0, 3, 1, 2]));

function spatialOut(x: readonly Dim[], kernel: [number, number], a: SpatialAttrs, channels: Dim): Dim[] {
  const [n, h, w] = nhwc(x, a.layout);
  const pad = (i: 0 | 1): string | [number, number] =>
    a.padding === 'EXPLICIT' ? [a.pads[i]!, a.pads[i + 2]!] : a.padding;
  const oh = windowOut(h, kernel[0], a.strides[0]!, a.dilations[0]!, pad(0));
  const ow = windowOut(w, kernel[1], a.strides[1]!, a.dilations[1]!, pad(1));
  return fromNhwc([n, oh, ow, channels], a.layout);
}

type TfPad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
function tfPad(a: SpatialAttrs): TfPad {
  if (a.padding === 'SAME') return 'same';
  const [t, l, b, r] = a.pads;
  if (a.padding === 'VALID' || (t === 0 && l === 0 && b === 0 && r === 0)) return 'valid';
  return [[0, 0], [t!, b!], [l!, r!], [0, 0]];
}

const pair = (v: number[]): [number, number] => [v[0]!, v[1]!];

/**
 * TF.js convolves with strides or dilations, not both: with explicit or no padding, a strided
 * convolution is the stride-1 one sampled every `stride` rows and columns.
 */
function stridedDilated(tf: Tf, a: SpatialAttrs, conv: (strides: [number, number]) => TfTensor): TfTensor {
  const strides = pair(a.strides);
  if (strides.every((s) => s === 1) || pair(a.dilations).every((d) => d === 1) || a.padding === 'SAME') return conv(strides);
  const full = conv([1, 1]);
  const y = tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [1, strides[0], strides[1], 1]);
  full.dispose();
  return y;
}

function addBias(tf: Tf, y: TfTensor, bias: TfTensor | undefined): TfTensor {
  return bias ? tf.add(y, bias) : y;
}

export const conv2d = defineOp({
  arity: [2, 3],
  attrs: { ...spatialAttrs, group: 1 },
  infer: ([x, w], a) => {
    const [kh, kw, cin, cout] = w!.shape as number[];
    const c = nhwc(x!.shape, a.layout)[3];
    if (typeof c === 'number' && cin! * a.group !== c)
      throw new ShapeError(`input has ${c} channels but the filter expects ${cin! * a.group} (group ${a.group})`);
    return [{ dtype: x!.dtype, shape: spatialOut(x!.shape, [kh!, kw!], a, cout!) }];
  },
  run: (tf, [x, w, b], a) => {
    const xs = toNhwcT(tf, x!, a.layout) as Tensor4D;
    const f = w as Tensor4D;
    let y: TfTensor;
    if (a.group === 1) {
      y = stridedDilated(tf, a, (st) => tf.conv2d(xs, f, st, tfPad(a), 'NHWC', pair(a.dilations)));
    } else {
      // Grouped convolution: one convolution per group of input channels, outputs concatenated.
      const xg = tf.split(xs, a.group, 3) as Tensor4D[];
      const fg = tf.split(f, a.group, 3) as Tensor4D[];
      y = tf.concat(xg.map((xi, i) => stridedDilated(tf, a, (st) => tf.conv2d(xi, fg[i]!, st, tfPad(a), 'NHWC', pair(a.dilations)))), 3);
    }
    return [fromNhwcT(tf, addBias(tf, y, b), a.layout)];
  },
});

export const depthwiseConv2d = defineOp({
  arity: [2, 3],
  attrs: { ...spatialAttrs },
  infer: ([x, w], a) => {
    const [kh, kw, cin, mult] = w!.shape as number[];
    const c = nhwc(x!.shape, a.layout)[3];
    if (typeof c === 'number' && cin !== c) throw new ShapeError(`input has ${c} channels but the depthwise filter expects ${cin}`);
    return [{ dtype: x!.dtype, shape: spatialOut(x!.shape, [kh!, kw!], a, cin! * mult!) }];
  },
  run: (tf, [x, w, b], a) => {
    const xs = toNhwcT(tf, x!, a.layout) as Tensor4D;
    const y = stridedDilated(tf, a, (st) => tf.depthwiseConv2d(xs, w as Tensor4D, st, tfPad(a), 'NHWC', pair(a.dilations)));
    return [fromNhwcT(tf, addBias(tf, y, b), a.layout)];
  },
});

/**
 * Transposed convolution: out = (in − 1)·stride + kernel − padBegin − padEnd + outputPadding.
 * Computed as the full (unpadded) transposed convolution, cropped by the pads.
 */
export const conv2dTranspose = defineOp({
  arity: [2, 3],
  attrs: { layout: 'NHWC' as Layout, strides: [1, 1], pads: [0, 0, 0, 0], outputPadding: [0, 0] },
  infer: ([x, w], a) => {
    const [kh, kw, cout] = w!.shape as number[];
    const [n, h, wd] = nhwc(x!.shape, a.layout);
    const size = (d: Dim, i: 0 | 1, k: number): Dim =>
      addDims(mulDims(subDims(d, 1), a.strides[i]!), k - a.pads[i]! - a.pads[i + 2]! + a.outputPadding[i]!);
    return [{ dtype: x!.dtype, shape: fromNhwc([n, size(h, 0, kh!), size(wd, 1, kw!), cout!], a.layout) }];
  },
  run: (tf, [x, w, b], a) => {
    const xs = toNhwcT(tf, x!, a.layout) as Tensor4D;
    const [n, h, wd] = xs.shape;
    const [kh, kw, cout] = w!.shape as number[];
    const fullH = (h - 1) * a.strides[0]! + kh!;
    const fullW = (wd - 1) * a.strides[1]! + kw!;
    let y: TfTensor = tf.conv2dTranspose(xs, w as Tensor4D, [n, fullH, fullW, cout!], pair(a.strides), 'valid');
    const [t, l, bt, r] = a.pads as [number, number, number, number];
    const [oh, ow] = a.outputPadding as [number, number];
    if (oh || ow) y = tf.pad(y, [[0, 0], [0, oh], [0, ow], [0, 0]]);
    y = tf.slice(y, [0, t, l, 0], [n, fullH + oh - t - bt, fullW + ow - l - r, cout!]);
    return [fromNhwcT(tf, addBias(tf, y, b), a.layout)];
  },
});

const poolAttrs = { ...spatialAttrs, kernel: [2, 2], /** average pools: count padded cells in the divisor. */ countIncludePad: false };

function poolRun(kind: 'max' | 'avg') {
  return (tf: Tf, [x]: TfTensor[], a: typeof poolAttrs): TfTensor[] => {
    // TF.js pools float32 only; integer pixels (uint8 images) are exact in float32.
    const dtype = x!.dtype;
    let xs = toNhwcT(tf, dtype === 'float32' ? x! : tf.cast(x!, 'float32'), a.layout) as Tensor4D;
    const k = pair(a.kernel);
    const s = pair(a.strides);
    const pad = tfPad(a);
    let y: TfTensor;
    if (typeof pad === 'string') {
      y = kind === 'max' ? tf.maxPool(xs, k, s, pad) : tf.avgPool(xs, k, s, pad);
    } else if (kind === 'max') {
      y = tf.maxPool(tf.pad(xs, pad, -Infinity) as Tensor4D, k, s, 'valid');
    } else {
      // Explicit pads: sum over the window divided by the number of cells counted.
      const sum = tf.avgPool(tf.pad(xs, pad) as Tensor4D, k, s, 'valid');
      if (a.countIncludePad) y = sum;
      else {
        const ones = tf.ones([1, xs.shape[1], xs.shape[2], 1]) as Tensor4D;
        y = tf.div(sum, tf.avgPool(tf.pad(ones, pad) as Tensor4D, k, s, 'valid'));
      }
    }
    xs = y as Tensor4D;
    const out = fromNhwcT(tf, xs, a.layout);
    return [dtype === 'float32' ? out : tf.cast(out, dtype)];
  };
}

function poolInfer([x]: ValueType[], a: typeof poolAttrs): ValueType[] {
  return [{ dtype: x!.dtype, shape: spatialOut(x!.shape, pair(a.kernel), a, nhwc(x!.shape, a.layout)[3]) }];
}

export const maxPool2d = defineOp({ arity: [1, 1], attrs: poolAttrs, infer: poolInfer, run: poolRun('max') });
export const avgPool2d = defineOp({ arity: [1, 1], attrs: poolAttrs, infer: poolInfer, run: poolRun('avg') });

/** x[..., in] · w[in, out] (+ b): a fully connected layer. */
export const dense = defineOp({
  arity: [2, 3],
  attrs: {},
  infer: ([x, w]) => {
    const [din, dout] = w!.shape as number[];
    const last = x!.shape[x!.shape.length - 1];
    if (typeof last === 'number' && last !== din) throw new ShapeError(`input has ${last} features but the weight expects ${din}`);
    return [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, -1), dout!] }];
  },
  run: (tf, [x, w, b]) => {
    const [din, dout] = w!.shape as [number, number];
    const lead = x!.shape.slice(0, -1);
    const y = tf.matMul(x!.rank === 2 ? x! : tf.reshape(x!, [-1, din]), w!);
    const yb = addBias(tf, y, b);
    return [x!.rank === 2 ? yb : tf.reshape(yb, [...lead, dout])];
  },
});

/** Batched matrix product with numpy broadcasting over leading dims. */
export const matMul = defineOp({
  arity: [2, 2],
  attrs: { transposeA: false, transposeB: false },
  infer: ([a, b], at) => {
    if (a!.shape.length < 2 || b!.shape.length < 2) throw new ShapeError('matMul operands must have rank ≥ 2');
    const ra = a!.shape.length;
    const rb = b!.shape.length;
    const m = at.transposeA ? a!.shape[ra - 1]! : a!.shape[ra - 2]!;
    const n = at.transposeB ? b!.shape[rb - 2]! : b!.shape[rb - 1]!;
    const batch = broadcastDims(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return [{ dtype: a!.dtype, shape: [...batch, m, n] }];
  },
  run: (tf, [a, b], at) => {
    if (a!.rank === 2 && b!.rank === 2) return [tf.matMul(a!, b!, at.transposeA, at.transposeB)];
    // [..., m, k] · [k, n] (a layer applied at every position): one 2-D product over all rows, instead
    // of copying the weight once per batch element.
    if (b!.rank === 2 && !at.transposeA) {
      const k = a!.shape[a!.rank - 1]!;
      const y = tf.matMul(tf.reshape(a!, [-1, k]), b!, false, at.transposeB);
      return [tf.reshape(y, [...a!.shape.slice(0, -1), y.shape[1]!])];
    }
    const batch = broadcastDims(a!.shape.slice(0, -2), b!.shape.slice(0, -2)) as number[];
    const flat = (t: TfTensor): TfTensor => {
      const full = tf.broadcastTo(t, [...batch, ...t.shape.slice(-2)]);
      return tf.reshape(full, [-1, ...t.shape.slice(-2)]);
    };
    const y = tf.matMul(flat(a!) as Tensor3D, flat(b!) as Tensor3D, at.transposeA, at.transposeB);
    return [tf.reshape(y, [...batch, ...y.shape.slice(-2)])];
  },
});

function broadcastDims(a: Dim[], b: Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    // Missing leading dims broadcast as 1.
    const x = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const y = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    out.push(broadcastDim(x, y, a, b));
  }
  return out;
}

/** Inference batch norm along `axis`: (x − mean)/sqrt(var + ε)·scale + offset. Inputs: x, scale, offset, mean, variance. */
export const batchNorm = defineOp({
  arity: [5, 5],
  attrs: { axis: -1, epsilon: 1e-3 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x, scale, offset, mean, variance], a) => {
    const axis = normAxis(a.axis, x!.rank);
    const shape = x!.shape.map((d, i) => (i === axis ? d : 1));
    const r = (t: TfTensor): TfTensor => tf.reshape(t, shape);
    const k = tf.mul(r(scale!), tf.rsqrt(tf.add(r(variance!), a.epsilon)));
    return [tf.add(tf.mul(tf.sub(x!, r(mean!)), k), r(offset!))];
  },
});

/** Layer norm over the dims from `axis` to the last: (x − μ)/sqrt(σ² + ε)·gamma + beta. */
export const layerNorm = defineOp({
  arity: [2, 3],
  attrs: { axis: -1, epsilon: 1e-5 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x, gamma, beta], a) => {
    const start = normAxis(a.axis, x!.rank);
    const axes = Array.from({ length: x!.rank - start }, (_, i) => start + i);
    const { mean, variance } = tf.moments(x!, axes, true);
    const y = tf.mul(tf.mul(tf.sub(x!, mean), tf.rsqrt(tf.add(variance, a.epsilon))), gamma!);
    return [beta ? tf.add(y, beta) : y];
  },
});

export const softmax = defineOp({
  arity: [1, 1],
  attrs: { axis: -1 },
  infer: ([x]) => [{ ...x! }],
  run: (tf, [x], a) => {
    const axis = normAxis(a.axis, x!.rank);
    if (axis === x!.rank - 1) return [tf.softmax(x!)];
    // TF.js's softmax only works on the last axis.
    const e = tf.exp(tf.sub(x!, tf.max(x!, axis, true)));
    return [tf.div(e, tf.sum(e, axis, true))];
  },
});

/** The family's ops, spread into OPS (src/ir/registry.ts). */
export const NN_OPS = { conv2d, depthwiseConv2d, conv2dTranspose, maxPool2d, avgPool2d, dense, matMul, batchNorm, layerNorm, softmax };
