// ONNX ↔ IR for the nn family (src/ir/ops/nn.ts): the readers of Softmax, BatchNormalization, Gemm,
// MatMul and the global pools (merged into ONNX_OPS, ops.ts; Conv, ConvTranspose and the windowed pools
// are read in ops-conv.ts), and the writer's entries for the family's IR ops (NN_EMIT).
import type { OpType } from '../../ir/registry.js';
import { sizeOf, transposeData } from '../../ir/tensor.js';
import type { Layout } from '../../ir/ops/nn.js';
import { permutedQuant } from './ops-conv.js';
import { borrowData, floatSource } from '../../ir/lazy-data.js';
import { quantizeColumnBlocks } from '../../quantize/rows.js';
import type { QuantPlan } from '../../quantize/plan.js';
import { attrFloat, attrInt, emit, type Translate } from './ctx.js';
import { attr } from '../../export/onnx/proto.js';
import { out0, simple, spatialAttrs, convLike, weightOf, type Emit } from '../../export/onnx/writer.js';

export const NN_OPS: Record<string, Translate> = {
  Softmax: (c) => {
    const rank = c.typeOf(c.input(0)).shape.length;
    const axis = attrInt(c, 'axis', c.opset >= 13 ? -1 : 1);
    // Before opset 13 Softmax flattened from `axis` on; equal to a per-axis softmax only on the last axis.
    if (c.opset < 13 && (axis < 0 ? axis + rank : axis) !== rank - 1) throw c.fail(`opset-${c.opset} Softmax over axis ${axis} of a rank-${rank} input is not supported`);
    emit(c, 'softmax', [c.input(0)], { axis });
  },
  BatchNormalization: (c) => {
    if (attrInt(c, 'training_mode', 0) === 1) throw c.fail('training_mode=1 (batch statistics, running-mean outputs) is not supported; export the model for inference');
    emit(c, 'batchNorm', [c.input(0), c.input(1), c.input(2), c.input(3), c.input(4)], { axis: 1, epsilon: attrFloat(c, 'epsilon', 1e-5) });
  },
  Gemm: (c) => {
    const transA = attrInt(c, 'transA', 0) === 1;
    const transB = attrInt(c, 'transB', 0) === 1;
    const alpha = attrFloat(c, 'alpha', 1);
    const beta = attrFloat(c, 'beta', 1);
    let a = c.input(0);
    if (transA) a = c.b.add1('transpose', [a], { perm: [1, 0] }, { name: `${c.name}/transA`, source: c.name });
    const w = c.konst(1);
    const bias = c.konst(2);
    if (w && w.dtype === 'float32' && (!c.input(2) || (bias && sizeOf(bias.shape) === (transB ? w.shape[0] : w.shape[1])))) {
      // A constant B is a dense layer: weights [K, N] (PyTorch's nn.Linear stores [N, K] with transB=1).
      const [k, n] = transB ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
      // B's values only when they change (a weight's data may still be in the file: src/ir/lazy-data.ts).
      const changed = (): Float32Array => {
        const data = transB ? transposeData(w.data as Float32Array, w.shape, [1, 0]) : (w.data as Float32Array);
        return alpha !== 1 ? data.map((v) => v * alpha) : data;
      };
      // Named after the initializers they come from, so that messages and reports speak the user's names.
      const quant = alpha === 1 ? permutedQuant(w, [1, 0]) : {};
      const wt = !transB && alpha === 1 ? c.input(1) : c.b.addConstant({ name: `${c.input(1)}${transB ? '/T' : ''}${alpha !== 1 ? '/scaled' : ''}`, dtype: 'float32', shape: [k, n], data: changed(), ...quant });
      let bt = '';
      if (bias) {
        const bd = Float32Array.from(bias.data as Float32Array, (v) => v * beta);
        bt = beta === 1 && bias.dtype === 'float32' && sizeOf(bias.shape) === n && bias.shape.length === 1 ? c.input(2) : c.b.addConstant({ name: `${c.input(2)}/scaled`, dtype: 'float32', shape: [n], data: bd });
      }
      emit(c, 'dense', [a, wt, bt]);
      return;
    }
    const dtype = c.typeOf(c.input(0)).dtype;
    if ((alpha !== 1 || beta !== 1) && dtype !== 'float32') throw c.fail(`Gemm with alpha/beta ≠ 1 on ${dtype} and a run-time B is not supported`);
    // alpha · (A·B) + beta · C with the scalings as their own multiplications (beta 0 keeps C's NaNs, as the formula does).
    const times = (v: string, k: number, what: string): string =>
      k === 1 ? v : c.b.add1('mul', [v, c.b.addConstant({ name: `${c.name}/${what}`, dtype: 'float32', shape: [], data: Float32Array.of(k) })], {}, { name: `${c.name}/${what}_scaled`, source: c.name });
    const y = times(c.b.add1('matMul', [a, c.input(1)], { transposeB: transB }, { name: `${c.name}/matmul`, source: c.name }), alpha, 'alpha');
    if (!c.input(2)) return c.bind(0, y);
    emit(c, 'add', [y, times(c.input(2), beta, 'beta')]);
  },
  MatMul: (c) => void emit(c, 'matMul', [c.input(0), c.input(1)]),
  GlobalAveragePool: (c) => void emit(c, 'reduceMean', [c.input(0)], { axes: [2, 3], keepDims: true }),
  GlobalMaxPool: (c) => void emit(c, 'reduceMax', [c.input(0)], { axes: [2, 3], keepDims: true }),
};

// ─── ONNX writer: IR nn ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const NN_EMIT: Partial<Record<OpType, Emit>> = {
  softmax: simple('Softmax', (a) => ({ axis: attr.i(a.axis as number) })),
  layerNorm: (w, n, a) => void w.b.node('LayerNormalization', n.inputs.filter(Boolean), n.outputs, { axis: attr.i(a.axis as number), epsilon: attr.f(a.epsilon as number) }, n.name),
  batchNorm: (w, n, a) => {
    // x·k + (offset − mean·k), k = scale/sqrt(var + ε), shaped to broadcast along the channel axis.
    const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => weightOf(w, n, i));
    const c = scale!.data.length;
    const k = Float32Array.from({ length: c }, (_, i) => (scale!.data[i] as number) / Math.sqrt((variance!.data[i] as number) + (a.epsilon as number)));
    const bias = Float32Array.from({ length: c }, (_, i) => (offset!.data[i] as number) - (mean!.data[i] as number) * k[i]!);
    const rank = w.rank(n.inputs[0]!);
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const shape = Array.from({ length: rank - axis }, (_, i) => (i === 0 ? c : 1));
    const m = w.op('Mul', [n.inputs[0]!, w.init(`${n.name}.k`, 'float32', shape, k)]);
    w.b.node('Add', [m, w.init(`${n.name}.b`, 'float32', shape, bias)], n.outputs, {}, n.name);
  },
  dense: (w, n) => {
    const x = n.inputs[0]!;
    const k = weightOf(w, n, 1);
    const [kIn, nOut] = k.shape as [number, number];
    const bias0 = n.inputs[2];
    if (w.blocks(n)) {
      const y = w.blockMatMul(n, x, n.inputs[1]!, (p) => quantizeColumnBlocks(n.inputs[1]!, k, p), nOut, kIn, bias0 ? undefined : out0(n));
      if (bias0) w.b.node('Add', [y, bias0], n.outputs, {}, n.name);
      return;
    }
    if (w.dynamic(n)) return w.dynamicMatMul(n, x, n.inputs[1]!, floatSource(k), kIn, nOut, bias0, out0(n));
    const ins = [x, w.plan ? w.weight(n, n.inputs[1]!, k.shape, k.data as Float32Array, 1, n.inputs[2]) : n.inputs[1]!];
    const bias = w.bias(n, 2);
    if (w.rank(x) === 2) {
      if (bias) ins.push(bias);
      w.b.node('Gemm', ins, n.outputs, {}, n.name);
      return;
    }
    if (!bias) return void w.b.node('MatMul', ins, n.outputs, {}, n.name);
    w.b.node('Add', [w.op('MatMul', ins), bias], n.outputs, {}, n.name);
  },
  matMul: (w, n, a) => {
    const swap = (v: string): string => {
      const r = w.rank(v);
      const perm = Array.from({ length: r }, (_, i) => i);
      [perm[r - 1], perm[r - 2]] = [perm[r - 2]!, perm[r - 1]!];
      return w.op('Transpose', [v], { perm: attr.ints(perm) });
    };
    const lhs = a.transposeA ? swap(n.inputs[0]!) : n.inputs[0]!;
    const k = w.konst(n.inputs[1]!);
    if (w.plan && k?.dtype === 'float32' && k.shape.length === 2) {
      // A constant right operand is a weight: written [k, m] so that its output channels are axis 1.
      const [r, c] = k.shape as [number, number];
      if (w.blocks(n)) {
        // MatMulNBits takes W as [N, K]: a transposed operand already is.
        const rows = a.transposeB ? (borrowData(k) as Float32Array) : (p: QuantPlan) => quantizeColumnBlocks(n.inputs[1]!, k, p);
        return void w.blockMatMul(n, lhs, n.inputs[1]!, rows, a.transposeB ? r : c, a.transposeB ? c : r, out0(n));
      }
      if (w.dynamic(n)) return w.dynamicMatMul(n, lhs, n.inputs[1]!, a.transposeB ? { nk: k } : floatSource(k), a.transposeB ? c : r, a.transposeB ? r : c, undefined, out0(n));
      const data = a.transposeB ? transposeData(k.data as Float32Array, [r, c], [1, 0]) : (k.data as Float32Array);
      const rhs = w.weight(n, n.inputs[1]!, a.transposeB ? [c, r] : [r, c], data, 1);
      return void w.b.node('MatMul', [lhs, rhs], n.outputs, {}, n.name);
    }
    const rhs = a.transposeB ? swap(n.inputs[1]!) : n.inputs[1]!;
    w.b.node('MatMul', [lhs, rhs], n.outputs, {}, n.name);
  },
  conv2d: (w, n, a) => {
    if (!w.konst(n.inputs[1]!) && !w.plan) {
      // Run-time weights [kh, kw, in/group, out] → [out, in/group, kh, kw] in the graph.
      const [kh, kw] = w.types.get(n.inputs[1]!)!.shape as number[];
      const oihw = w.op('Transpose', [n.inputs[1]!], { perm: attr.ints([3, 2, 0, 1]) });
      return convLike(w, n, a, oihw, { ...spatialAttrs(a, [kh!, kw!]), dilations: attr.ints(a.dilations as number[]), group: attr.i(a.group as number) });
    }
    const t = weightOf(w, n, 1);
    const [kh, kw, ig, o] = t.shape as [number, number, number, number];
    convLike(w, n, a, { shape: [o, ig, kh, kw], data: transposeData(t.data as Float32Array, t.shape, [3, 2, 0, 1]) }, { ...spatialAttrs(a, [kh, kw]), dilations: attr.ints(a.dilations as number[]), group: attr.i(a.group as number) });
  },
  depthwiseConv2d: (w, n, a) => {
    const t = weightOf(w, n, 1);
    const [kh, kw, c, m] = t.shape as [number, number, number, number];
    // [kh, kw, C, M] → [C·M, 1, kh, kw]: output channel c·M + m in both.
    convLike(w, n, a, { shape: [c * m, 1, kh, kw], data: transposeData(t.data as Float32Array, [kh, kw, c * m], [2, 0, 1]) }, { ...spatialAttrs(a, [kh, kw]), dilations: attr.ints(a.dilations as number[]), group: attr.i(c) });
  },
  conv2dTranspose: (w, n, a) => {
    const t = w.konst(n.inputs[1]!) || w.plan ? weightOf(w, n, 1) : undefined;
    const [kh, kw] = (t ?? w.types.get(n.inputs[1]!)!).shape as [number, number];
    // [kh, kw, out, in] → [in, out, kh, kw]; a run-time weight is transposed in the graph.
    const wt = t ? { shape: [t.shape[3]!, t.shape[2]!, kh, kw], data: transposeData(t.data as Float32Array, t.shape, [3, 2, 0, 1]) } : w.op('Transpose', [n.inputs[1]!], { perm: attr.ints([3, 2, 0, 1]) });
    convLike(w, n, a, wt, {
      kernel_shape: attr.ints([kh, kw]), strides: attr.ints(a.strides as number[]), pads: attr.ints(a.pads as number[]), output_padding: attr.ints(a.outputPadding as number[]),
    }, 'ConvTranspose');
  },
  maxPool2d: (w, n, a) => {
    const y = w.op('MaxPool', [w.toNchw(n.inputs[0]!, a.layout as Layout)], spatialAttrs(a, a.kernel as number[]));
    w.fromNchw(y, a.layout as Layout, out0(n));
  },
  avgPool2d: (w, n, a) => {
    const y = w.op('AveragePool', [w.toNchw(n.inputs[0]!, a.layout as Layout)], { ...spatialAttrs(a, a.kernel as number[]), count_include_pad: attr.i(a.countIncludePad ? 1 : 0) });
    w.fromNchw(y, a.layout as Layout, out0(n));
  },
};
