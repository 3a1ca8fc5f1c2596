// Gradient kernels the wasm backend lacks (ENVIRONMENT.md): without them, training a conv net or an
// embedding on wasm throws "Kernel ... not registered". Each is composed from kernels wasm has:
// - a conv filter gradient is a convolution of the input with the output gradient, batch and
//   channel axes swapped (stride and dilation trade places);
// - a depthwise input gradient is a transposed convolution with a block-diagonal filter;
// - UnsortedSegmentSum (the gradient of Gather) is a one-hot matrix product.
// It also routes transposed matrix products (every matMul gradient) to wasm's fast path.
import type { Tensor, Tensor4D, TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../../ir/op.js';

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Explicit [top, bottom, left, right] pads of a forward convolution, as TF computes them. */
function forwardPads(pad: Pad, inHW: [number, number], k: [number, number], s: [number, number], d: [number, number]): [number, number, number, number] {
  if (Array.isArray(pad)) return [pad[1][0], pad[1][1], pad[2][0], pad[2][1]];
  if (typeof pad === 'number') return [pad, pad, pad, pad];
  if (pad === 'valid') return [0, 0, 0, 0];
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const eff = (k[i]! - 1) * d[i]! + 1;
    const o = Math.ceil(inHW[i]! / s[i]!);
    const total = Math.max(0, (o - 1) * s[i]! + eff - inHW[i]!);
    out.push(Math.floor(total / 2), total - Math.floor(total / 2));
  }
  return out as [number, number, number, number];
}

let registered = false;

export function registerWasmGradients(tf: Tf): void {
  if (registered) return;
  registered = true;
  const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(t: TensorInfo): Tensor };
  let incRef: (id: object) => void = () => {};
  // Inputs are wrapped as tensors for the ops below; the wrappers are disposed with the kernel's
  // scope, so each holds a reference of its own.
  const t = (info: TensorInfo): Tensor => {
    incRef(info.dataId);
    return engine.makeTensorFromTensorInfo(info);
  };
  const info = (x: Tensor): TensorInfo => ({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
  /** A kernel function composed of TF.js ops on its inputs (run inside a tidy). */
  const composed =
    (fn: (inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => Tensor) =>
    ({ inputs, attrs, backend }: { inputs: object; attrs?: object; backend: unknown }): TensorInfo => {
      incRef = (id) => (backend as { incRef(id: object): void }).incRef(id);
      const out = tf.tidy(() => fn(inputs as Record<string, TensorInfo>, (attrs ?? {}) as Record<string, unknown>));
      // The engine wraps the returned data in a new tensor without counting a reference, and
      // disposes `out` with the kernel's scope: hand the data over by counting one more.
      incRef(out.dataId);
      return info(out);
    };
  const register = (kernelName: string, fn: (inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => Tensor): void => {
    if (tf.getKernel(kernelName, 'wasm')) return;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: composed(fn) });
  };

  // wasm's BatchMatMul runs XNNPACK only for one product without transposes; with transposeA or
  // transposeB (both gradients of every matMul) it falls back to a naive loop, measured 13–16x slower
  // on [2048, 512]·[512, 128]. Transposing explicitly first takes the XNNPACK path.
  const batchMatMul = tf.getKernel('BatchMatMul', 'wasm');
  if (batchMatMul) {
    const batchOf = (x: TensorInfo): number => x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const swap = (x: Tensor): Tensor => tf.transpose(x, [...x.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)));
    const viaTranspose = composed((inputs, a) => {
      const [x, y] = [t(inputs.a!), t(inputs.b!)];
      return tf.matMul(a.transposeA ? swap(x) : x, a.transposeB ? swap(y) : y);
    });
    // A batch of products (attention) also takes the naive loop. As a depthwise convolution, one
    // channel per product: x [1, M, K, batch] with the filter [1, K, batch, N] (multiplier N) gives
    // out[0, i, 0, b·N + n] = Σ_k A_b[i, k]·B_b[k, n]; measured 1.2–1.7x faster for [128, 64, 32]·[128, 32, 64].
    const viaDepthwise = composed((inputs, a) => {
      const [x, y] = [t(inputs.a!), t(inputs.b!)];
      const lead = x.shape.slice(0, -2);
      const batch = lead.reduce((p, d) => p * d, 1);
      const x3 = tf.reshape(x, [batch, ...x.shape.slice(-2)]);
      const y3 = tf.reshape(y, [batch, ...y.shape.slice(-2)]);
      const xs = tf.transpose(x3, a.transposeA ? [2, 1, 0] : [1, 2, 0]); // [M, K, batch]
      const f = tf.transpose(y3, a.transposeB ? [2, 0, 1] : [1, 0, 2]); // [K, batch, N]
      const [m, k] = xs.shape as [number, number, number];
      const n = f.shape[2]!;
      const out = tf.depthwiseConv2d(tf.reshape(xs, [1, m, k, batch]) as Tensor4D, tf.reshape(f, [1, k, batch, n]) as Tensor4D, 1, 'valid');
      return tf.reshape(tf.transpose(tf.reshape(out, [m, batch, n]), [1, 0, 2]), [...lead, m, n]);
    });
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({
      ...batchMatMul,
      kernelFunc: (args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
        const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
        if ((transposeA || transposeB) && batchOf(a) === 1 && batchOf(b) === 1) return viaTranspose(args);
        if (batchOf(a) > 1 && batchOf(a) === batchOf(b) && a.shape.length === b.shape.length) return viaDepthwise(args);
        return batchMatMul.kernelFunc(args);
      },
    });
  }

  /**
   * dW[i, j, ci, co] = Σ_{n, oh, ow} x[n, oh·s + i·d − pt, ow·s + j·d − pl, ci] · dy[n, oh, ow, co]:
   * a convolution over (H, W) of x with batch and channel swapped, by the kernel dy, with
   * stride d and dilation s; cropped to the filter size.
   */
  function filterGrad(x: Tensor4D, dy: Tensor4D, filterHW: [number, number], s: [number, number], d: [number, number], pad: Pad): Tensor4D {
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const [pt, , pl] = forwardPads(pad, [h, w], filterHW, s, d);
    const need = (i: 0 | 1, size: number, o: number, p: number): number => Math.max(0, (filterHW[i] - 1) * d[i] + (o - 1) * s[i] + 1 - size - p);
    const padded = tf.pad(x, [[0, 0], [pt, need(0, h, oh, pt)], [pl, need(1, w, ow, pl)], [0, 0]]) as Tensor4D;
    const xs = tf.transpose(padded, [3, 1, 2, 0]) as Tensor4D; // [C, H, W, N]
    const k = tf.transpose(dy, [1, 2, 0, 3]) as Tensor4D; // [oh, ow, N, Cout]
    const full = tf.conv2d(xs, k, d, 'valid', 'NHWC', s); // [C, kh', kw', Cout]
    const cropped = tf.slice(full, [0, 0, 0, 0], [full.shape[0], filterHW[0], filterHW[1], full.shape[3]]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as Tensor4D;
  }

  register('Conv2DBackpropFilter', (inputs, a) => {
    const fs = a.filterShape as [number, number, number, number];
    return filterGrad(t(inputs.x!) as Tensor4D, t(inputs.dy!) as Tensor4D, [fs[0], fs[1]], pair(a.strides as number), [1, 1], a.pad as Pad);
  });

  register('DepthwiseConv2dNativeBackpropFilter', (inputs, a) => {
    const [kh, kw, c, m] = a.filterShape as [number, number, number, number];
    const x = t(inputs.x!) as Tensor4D;
    const dy = t(inputs.dy!) as Tensor4D;
    const [n, oh, ow] = dy.shape;
    // One depthwise channel per (c, n) pair: x as [1, H, W, C·N], dy as a [oh, ow, C·N, M] filter.
    const xs = tf.reshape(tf.transpose(x, [1, 2, 3, 0]), [1, x.shape[1], x.shape[2], c * n]) as Tensor4D;
    const k = tf.reshape(tf.transpose(tf.reshape(dy, [n, oh, ow, c, m]), [1, 2, 3, 0, 4]), [oh, ow, c * n, m]) as Tensor4D;
    const s = pair(a.strides as number);
    const d = pair(a.dilations as number);
    const [pt, , pl] = forwardPads(a.pad as Pad, [x.shape[1], x.shape[2]], [kh, kw], s, d);
    const need = (i: 0 | 1, size: number, o: number, p: number): number => Math.max(0, ([kh, kw][i]! - 1) * d[i] + (o - 1) * s[i] + 1 - size - p);
    const padded = tf.pad(xs, [[0, 0], [pt, need(0, x.shape[1], oh, pt)], [pl, need(1, x.shape[2], ow, pl)], [0, 0]]) as Tensor4D;
    const full = tf.depthwiseConv2d(padded, k, d, 'valid', 'NHWC', s); // [1, kh', kw', C·N·M]
    const cropped = tf.slice(full, [0, 0, 0, 0], [1, kh, kw, c * n * m]);
    return tf.sum(tf.reshape(cropped, [kh, kw, c, n, m]), 3);
  });

  register('DepthwiseConv2dNativeBackpropInput', (inputs, a) => {
    const dy = t(inputs.dy!) as Tensor4D;
    const w = t(inputs.filter!) as Tensor4D; // [kh, kw, C, M]
    const [kh, kw, c, m] = w.shape;
    const d = pair(a.dilations as number);
    if (d[0] !== 1 || d[1] !== 1) throw new Error('DepthwiseConv2dNativeBackpropInput (wasm): dilation > 1 is not supported');
    // Block-diagonal [kh, kw, C, C·M] filter: input channel c feeds outputs c·M … c·M + M − 1.
    const eye = tf.reshape(tf.oneHot(tf.range(0, c, 1, 'int32'), c), [1, 1, c, c, 1]);
    const block = tf.reshape(tf.mul(eye, tf.reshape(w, [kh, kw, c, 1, m])), [kh, kw, c, c * m]) as Tensor4D;
    return tf.conv2dTranspose(dy, block, a.inputShape as [number, number, number, number], pair(a.strides as number), a.pad as 'valid' | 'same');
  });

  register('UnsortedSegmentSum', (inputs, a) => {
    const x = t(inputs.x!);
    const ids = t(inputs.segmentIds!);
    const numSegments = a.numSegments as number;
    const rows = ids.size;
    const flat = tf.reshape(x, [rows, -1]);
    const onehot = tf.oneHot(tf.reshape(tf.cast(ids, 'int32'), [rows]), numSegments); // [rows, S]
    const summed = tf.matMul(onehot, flat, true, false); // [S, rest]
    return tf.reshape(summed, [numSegments, ...x.shape.slice(ids.rank)]);
  });
}
