// TFLite lowerings of the ops of src/ir/ops/nn.ts: convolutions, pooling, dense and matMul, the
// normalizations and softmax. Merged into TFLITE_LOWERINGS (lower.ts).
import type { Node } from '../../ir/graph.js';
import type { Layout } from '../../ir/ops/nn.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { weightGranularity } from '../../quantize/plan.js';
import { samePads } from '../../ir/shape.js';
import { transposeData, type Tensor } from '../../ir/tensor.js';
import type { OptionField } from './flatbuffer.js';
import type { Lowerer } from './lowerer.js';
import { ACTIVATION, OPTIONS, PADDING } from './schema.js';
import { bias, identity, NHWC, NHWC_OF_NCHW, opts, padding, padNhwc, runtimeWeight, weight, type Lowering } from './helpers.js';

export const NN_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  softmax: (l, n, a) => {
    const rank = l.shapeOf(n.inputs[0]!).length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    // SOFTMAX works on the last physical axis: put the softmax axis last.
    const perm = [...identity(rank).filter((d) => d !== axis), axis];
    const x = l.get(n.inputs[0]!, perm);
    const out = n.outputs[0]!;
    const t = l.activation(out, perm.map((d) => l.shapeOf(out)[d]!), 'float32');
    l.emit('SOFTMAX', [x], [t], opts(OPTIONS.SoftmaxOptions, [[0, 'f32', 1]]));
    l.place(out, t, perm);
  },
  dense: (l, n) => {
    const w = weight(l, n, 1);
    const [din, dout] = w.shape as [number, number];
    const x = l.get(n.inputs[0]!);
    const rank = l.shapeOf(n.inputs[0]!).length;
    const fused = l.fuse(n);
    const wT = l.weights(n, `${n.inputs[1]}`, [dout, din], transposeData(w.data as Float32Array, [din, dout], [1, 0]), 0, { index: 2, x });
    const t = l.activation(fused.value, l.shapeOf(n.outputs[0]!), 'float32');
    const fields: OptionField[] = [[0, 'i8', fused.code]];
    if (rank > 2) fields.push([2, 'bool', true]); // keep_num_dims: [.., in] → [.., out]
    l.emit('FULLY_CONNECTED', [x, wT, l.biasFor(n, 2, dout, x, wT)], [t], opts(OPTIONS.FullyConnectedOptions, fields), rank > 2 ? 5 : 1);
    l.place(fused.value, t);
  },
  matMul: (l, n, a) => {
    const b = l.constant(n.inputs[1]!);
    const aShape = l.shapeOf(n.inputs[0]!);
    if (b && b.shape.length === 2 && !a.transposeA && b.dtype === 'float32') {
      // A constant right operand is a fully connected layer: TFLite quantizes and accelerates it best.
      const [k, m] = a.transposeB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
      const wT = a.transposeB ? b.data : transposeData(b.data as Float32Array, [k, m], [1, 0]);
      const x = l.get(n.inputs[0]!);
      // The Add of a bias after it (ONNX MatMul + Add, TF.js MatMul + BiasAdd) goes into the layer's bias
      // input, with the activation after that: one kernel instead of two or three.
      const bias = biasAfter(l, n, m);
      const fused = l.fuse(bias?.node ?? n);
      const fields: OptionField[] = [[0, 'i8', fused.code]];
      if (aShape.length > 2) fields.push([2, 'bool', true]);
      const version = aShape.length > 2 ? 5 : 1;
      const split = splitAfter(l, n, fused.value, m);
      if (split) {
        // A Split of the result along its last axis (a fused QKV projection): one FULLY_CONNECTED per piece,
        // each written in place, where SPLIT_V copied the pieces out of one result (measured 5% of the char LM).
        let row = 0;
        split.node.outputs.forEach((out, j) => {
          const size = split.sizes[j]!;
          const wj = l.weights(n, `${n.inputs[1]}/fc/${j}`, [size, k], (wT as Float32Array).slice(row * k, (row + size) * k), 0);
          const bj = l.floatConst(bias ? `${bias.value}/${j}` : `${n.name}/bias/${j}`, bias ? bias.data.slice(row, row + size) : new Float32Array(size), [size]);
          const t = l.activation(out, l.shapeOf(out), 'float32');
          l.emit('FULLY_CONNECTED', [x, wj, bj], [t], opts(OPTIONS.FullyConnectedOptions, fields), version);
          l.place(out, t);
          row += size;
        });
        return;
      }
      const w = l.weights(n, `${n.inputs[1]}/fc`, [m, k], wT as Float32Array, 0);
      const t = l.activation(fused.value, l.shapeOf(n.outputs[0]!), 'float32');
      const biasTensor = bias ? l.floatConst(bias.value, bias.data, [m]) : l.biasFor(n, -1, m, x, w);
      l.emit('FULLY_CONNECTED', [x, w, biasTensor], [t], opts(OPTIONS.FullyConnectedOptions, fields), version);
      l.place(fused.value, t);
      return;
    }
    l.plain(n, 'BATCH_MATMUL', [], opts(OPTIONS.BatchMatMulOptions, [[0, 'bool', a.transposeA as boolean], [1, 'bool', a.transposeB as boolean]]));
  },
  conv2d: (l, n, a) => {
    const w = l.constant(n.inputs[1]!);
    const [kh, kw, cin, cout] = (w ? weight(l, n, 1).shape : runtimeWeight(l, n)) as [number, number, number, number];
    const { x, pad, fused } = convInput(l, n, a, kh, kw);
    const wOhwi = w ? l.weights(n, n.inputs[1]!, [cout, kh, kw, cin], transposeData(w.data as Float32Array, w.shape, [3, 0, 1, 2]), 0, { index: 2, x }) : l.get(n.inputs[1]!, [3, 0, 1, 2]);
    const { t, perm } = convOutput(l, n, a, fused.value);
    const [sh, sw] = a.strides as [number, number];
    const [dh, dw] = a.dilations as [number, number];
    l.emit('CONV_2D', [x, wOhwi, l.biasFor(n, 2, cout, x, wOhwi)], [t], opts(OPTIONS.Conv2DOptions, [[0, 'i8', pad.code], [1, 'i32', sw], [2, 'i32', sh], [3, 'i8', fused.code], [4, 'i32', dw], [5, 'i32', dh]]), dh > 1 || dw > 1 ? 2 : 1);
    l.place(fused.value, t, perm);
  },
  depthwiseConv2d: (l, n, a) => {
    const w = weight(l, n, 1);
    const [kh, kw, cin, mult] = w.shape as [number, number, number, number];
    const { x, pad, fused } = convInput(l, n, a, kh, kw);
    // [kh, kw, in, mult] → [1, kh, kw, in·mult]: the same bytes, channel c·mult + m last.
    const wt = l.weights(n, n.inputs[1]!, [1, kh, kw, cin * mult], w.data as Float32Array, 3, { index: 2, x });
    const { t, perm } = convOutput(l, n, a, fused.value);
    const [sh, sw] = a.strides as [number, number];
    const [dh, dw] = a.dilations as [number, number];
    l.emit('DEPTHWISE_CONV_2D', [x, wt, l.biasFor(n, 2, cin * mult, x, wt)], [t], opts(OPTIONS.DepthwiseConv2DOptions, [[0, 'i8', pad.code], [1, 'i32', sw], [2, 'i32', sh], [3, 'i32', mult], [4, 'i8', fused.code], [5, 'i32', dw], [6, 'i32', dh]]), dh > 1 || dw > 1 ? 2 : 1);
    l.place(fused.value, t, perm);
  },
  conv2dTranspose: (l, n, a) => {
    const w = l.constant(n.inputs[1]!);
    const [kh, kw, cout, cin] = (w ? weight(l, n, 1).shape : runtimeWeight(l, n)) as [number, number, number, number];
    const layout = a.layout as Layout;
    const x = l.nhwc(n.inputs[0]!, layout);
    const [nb, h, wd] = NHWC(l.shapeOf(n.inputs[0]!), layout) as [number, number, number, number];
    const [sh, sw] = a.strides as [number, number];
    const full = [nb, (h - 1) * sh + kh, (wd - 1) * sw + kw, cout];
    // TRANSPOSE_CONV wants weights [out, kh, kw, in]; ours are [kh, kw, out, in].
    const wt = w ? l.weights(n, n.inputs[1]!, [cout, kh, kw, cin], transposeData(w.data as Float32Array, w.shape, [2, 0, 1, 3]), 0) : l.get(n.inputs[1]!, [2, 0, 1, 3]);
    const logical = l.shapeOf(n.outputs[0]!);
    const perm = layout === 'NCHW' ? NHWC_OF_NCHW : identity(4);
    const outShape = perm.map((d) => logical[d]!);
    const pads = a.pads as number[];
    const op = a.outputPadding as number[];
    const direct = pads.every((p) => p === 0) && op.every((p) => p === 0);
    // Output padding adds cells no tap reaches, which hold only the bias: added after the padding.
    const biasAfter = op.some((p) => p > 0) && !!n.inputs[2];
    if (biasAfter && l.plan && !l.plan.exclude(n)) throw l.fail(n, 'quantized transposed convolution with output padding and bias is not supported for TFLite');
    const tFull = l.activation(direct ? n.outputs[0]! : `${n.name}/full`, full, 'float32');
    const convBias = biasAfter ? l.floatConst(`${n.name}/no_bias`, new Float32Array(cout), [cout]) : bias(l, n, 2, cout);
    l.emit('TRANSPOSE_CONV', [l.int32Const(`${n.name}/output_shape`, full), wt, x, convBias], [tFull], opts(OPTIONS.TransposeConvOptions, [[0, 'i8', PADDING.VALID], [1, 'i32', sw], [2, 'i32', sh]]), 3);
    if (direct) return l.place(n.outputs[0]!, tFull, perm);
    // Crop the pads (and extend by output padding, which only adds rows the kernel never reaches: bias).
    let cur = tFull;
    let shape = full;
    if (op.some((p) => p > 0)) {
      cur = padNhwc(l, n.name, cur, shape, [0, 0, op[0]!, op[1]!]).tensor;
      shape = [nb, full[1]! + op[0]!, full[2]! + op[1]!, cout];
    }
    const t = l.activation(n.outputs[0]!, outShape, 'float32');
    const cropped = biasAfter ? l.activation(`${n.name}/cropped`, outShape, 'float32') : t;
    l.emit('SLICE', [cur, l.int32Const(`${n.name}/begin`, [0, pads[0]!, pads[1]!, 0]), l.int32Const(`${n.name}/size`, outShape)], [cropped], opts(OPTIONS.SliceOptions));
    void shape;
    if (biasAfter) l.emit('ADD', [cropped, bias(l, n, 2, cout)], [t], opts(OPTIONS.AddOptions, [[0, 'i8', 0]]));
    l.place(n.outputs[0]!, t, perm);
  },
  maxPool2d: (l, n, a) => pool(l, n, a, 'MAX_POOL_2D'),
  avgPool2d: (l, n, a) => pool(l, n, a, 'AVERAGE_POOL_2D'),
  batchNorm: (l, n, a) => {
    // Inference batch norm is x·k + (offset − mean·k) with k = scale/sqrt(var + ε), per channel.
    const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => weight(l, n, i)) as [Tensor, Tensor, Tensor, Tensor];
    const c = scale.data.length;
    const k = new Float32Array(c);
    const b = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      k[i] = (scale.data[i] as number) / Math.sqrt((variance.data[i] as number) + (a.epsilon as number));
      b[i] = (offset.data[i] as number) - (mean.data[i] as number) * k[i]!;
    }
    const x = l.placement(n.inputs[0]!);
    const rank = x.perm.length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const phys = x.perm.indexOf(axis);
    const cshape = x.perm.map((_, i) => (i === phys ? c : 1));
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    const m = l.activation(`${n.name}/mul`, shape, 'float32');
    l.emit('MUL', [x.tensor, l.floatConst(`${n.name}/k`, k, cshape)], [m], opts(OPTIONS.MulOptions, [[0, 'i8', 0]]));
    const fused = l.fuse(n);
    const t = l.activation(fused.value, shape, 'float32');
    l.emit('ADD', [m, l.floatConst(`${n.name}/b`, b, cshape)], [t], opts(OPTIONS.AddOptions, [[0, 'i8', fused.code]]));
    l.place(fused.value, t, x.perm);
  },
  layerNorm: (l, n, a) => {
    // (x − mean)·rsqrt(var + ε)·gamma + beta over the trailing axes.
    const shape = l.shapeOf(n.inputs[0]!);
    const rank = shape.length;
    const start = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const axes = l.int32Const(`${n.name}/axes`, identity(rank).slice(start));
    const reduced = shape.map((d, i) => (i >= start ? 1 : d));
    const x = l.get(n.inputs[0]!);
    const mean = l.activation(`${n.name}/mean`, reduced, 'float32');
    l.emit('MEAN', [x, axes], [mean], opts(OPTIONS.ReducerOptions, [[0, 'bool', true]]));
    const centred = l.activation(`${n.name}/centred`, shape, 'float32');
    l.emit('SUB', [x, mean], [centred], opts(OPTIONS.SubOptions, [[0, 'i8', 0]]));
    const sq = l.activation(`${n.name}/sq`, shape, 'float32');
    l.emit('MUL', [centred, centred], [sq], opts(OPTIONS.MulOptions, [[0, 'i8', 0]]));
    const variance = l.activation(`${n.name}/var`, reduced, 'float32');
    l.emit('MEAN', [sq, axes], [variance], opts(OPTIONS.ReducerOptions, [[0, 'bool', true]]));
    const ve = l.activation(`${n.name}/var_eps`, reduced, 'float32');
    l.emit('ADD', [variance, l.floatConst(`${n.name}/eps`, Float32Array.of(a.epsilon as number), [])], [ve], opts(OPTIONS.AddOptions, [[0, 'i8', 0]]));
    const inv = l.activation(`${n.name}/rsqrt`, reduced, 'float32');
    l.emit('RSQRT', [ve], [inv]);
    const normed = l.activation(`${n.name}/normed`, shape, 'float32');
    l.emit('MUL', [centred, inv], [normed], opts(OPTIONS.MulOptions, [[0, 'i8', 0]]));
    const hasBeta = !!n.inputs[2];
    const scaled = l.activation(hasBeta ? `${n.name}/scaled` : n.outputs[0]!, shape, 'float32');
    l.emit('MUL', [normed, l.get(n.inputs[1]!)], [scaled], opts(OPTIONS.MulOptions, [[0, 'i8', 0]]));
    if (!hasBeta) return l.place(n.outputs[0]!, scaled);
    const t = l.activation(n.outputs[0]!, shape, 'float32');
    l.emit('ADD', [scaled, l.get(n.inputs[2]!)], [t], opts(OPTIONS.AddOptions, [[0, 'i8', 0]]));
    l.place(n.outputs[0]!, t);
  },
};

/** A convolution's NHWC input, padded explicitly where TFLite's SAME/VALID cannot say it, and its fused activation. */
function convInput(l: Lowerer, n: Node, a: Record<string, unknown>, kh: number, kw: number) {
  const layout = a.layout as Layout;
  let x = l.nhwc(n.inputs[0]!, layout);
  const inShape = NHWC(l.shapeOf(n.inputs[0]!), layout);
  const pad = padding(a, inShape, [kh, kw]);
  if (pad.pads) x = padNhwc(l, n.name, x, inShape, pad.pads).tensor;
  return { x, pad, fused: l.fuse(n) };
}

/** The NHWC output tensor of a convolution writing `value`, and the permutation back to its layout. */
function convOutput(l: Lowerer, n: Node, a: Record<string, unknown>, value: string) {
  const logical = l.shapeOf(n.outputs[0]!);
  const perm = a.layout === 'NCHW' ? NHWC_OF_NCHW : identity(4);
  return { t: l.activation(value, perm.map((d) => logical[d]!), 'float32'), perm };
}

function pool(l: Lowerer, n: Node, a: Record<string, unknown>, op: 'MAX_POOL_2D' | 'AVERAGE_POOL_2D'): void {
  const layout = a.layout as Layout;
  const [kh, kw] = a.kernel as [number, number];
  let x = l.nhwc(n.inputs[0]!, layout);
  const inShape = NHWC(l.shapeOf(n.inputs[0]!), layout);
  let pad = padding({ ...a, dilations: [1, 1] }, inShape, [kh, kw]);
  // TFLite's SAME average excludes the padding from the count; counting it needs explicit zeros.
  if (op === 'AVERAGE_POOL_2D' && a.countIncludePad && pad.code === PADDING.SAME) {
    const pads = a.padding === 'EXPLICIT' ? (a.pads as number[]) : samePads([inShape[1]!, inShape[2]!], [kh, kw], a.strides as [number, number], [1, 1]);
    if (pads.some((p) => p > 0)) pad = { code: PADDING.VALID, pads };
  }
  // An average that excludes explicit pads: the zero-padded average times window / counted cells per output cell.
  const rescale = op === 'AVERAGE_POOL_2D' && !a.countIncludePad && pad.pads?.some((p) => p > 0);
  if (rescale && l.plan && !l.plan.exclude(n)) throw l.fail(n, 'quantized average pooling with explicit pads that exclude padding has no TFLite equivalent');
  if (pad.pads) x = padNhwc(l, n.name, x, inShape, pad.pads, op === 'MAX_POOL_2D' ? -3.4e38 : 0).tensor;
  const o = l.spatialOut(n, layout);
  const [sh, sw] = a.strides as [number, number];
  const pooled = rescale ? l.activation(`${n.name}/padded_mean`, o.shape, 'float32') : o.tensor;
  l.emit(op, [x], [pooled], opts(OPTIONS.Pool2DOptions, [[0, 'i8', pad.code], [1, 'i32', sw], [2, 'i32', sh], [3, 'i32', kw], [4, 'i32', kh], [5, 'i8', 0]]));
  if (rescale) {
    const [t, lf] = pad.pads!;
    const [, oh, ow] = o.shape as [number, number, number];
    const k = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const rows = Math.min(i * sh - t! + kh, inShape[1]!) - Math.max(i * sh - t!, 0);
        const cols = Math.min(j * sw - lf! + kw, inShape[2]!) - Math.max(j * sw - lf!, 0);
        k[i * ow + j] = (kh * kw) / (rows * cols);
      }
    l.emit('MUL', [pooled, l.floatConst(`${n.name}/window_over_count`, k, [1, oh, ow, 1])], [o.tensor], opts(OPTIONS.MulOptions, [[0, 'i8', 0]]));
  }
  o.place();
}

/**
 * The Add that only adds a constant float vector of `m` values along the last axis to a fully connected
 * node's result, which the layer's bias input can hold; absorbed. Not in int8 mode, where the result's
 * calibrated range and the requantization are the Add's.
 */
function biasAfter(l: Lowerer, n: Node, m: number): { node: Node; value: string; data: Float32Array } | undefined {
  if (l.plan?.mode === 'int8') return undefined;
  const y = n.outputs[0]!;
  const add = l.soleUser(y);
  if (add?.op !== 'add') return undefined;
  const value = add.inputs[0] === y ? add.inputs[1]! : add.inputs[0]!;
  const c = l.constant(value);
  if (!c || c.dtype !== 'float32' || c.data.length !== m || c.shape[c.shape.length - 1] !== m) return undefined;
  if (l.shapeOf(add.outputs[0]!).join() !== l.shapeOf(y).join()) return undefined;
  l.absorbed.add(add);
  return { node: add, value, data: c.data as Float32Array };
}

/**
 * The Split along the last axis that alone reads `value`, the result of fully connected node `n` with `m`
 * outputs; absorbed. Not where quantization would change with the pieces: int8 mode, and weights quantized
 * per tensor (one scale per piece would be another quantization); per channel, each row keeps its scale.
 */
function splitAfter(l: Lowerer, n: Node, value: string, m: number): { node: Node; sizes: number[] } | undefined {
  const plan = l.plan;
  if (plan?.mode === 'int8') return undefined;
  if (plan?.mode === 'dynamic' && !plan.exclude(n) && weightGranularity(plan, n.op, 'tflite') !== 'channel') return undefined;
  const split = l.soleUser(value);
  if (split?.op !== 'split' || split.inputs.length !== 1) return undefined;
  const rank = l.shapeOf(value).length;
  const a = attrsOf(split);
  const sizes = a.sizes as number[];
  if ((a.axis as number) !== rank - 1 && (a.axis as number) !== -1) return undefined;
  if (sizes.length !== split.outputs.length || sizes.reduce((s, v) => s + v, 0) !== m) return undefined;
  l.absorbed.add(split);
  return { node: split, sizes };
}
