// TF.js GraphModel reader: model.json as tensorflowjs_converter writes it (a TensorFlow GraphDef in
// JSON: int64 as strings, strings base64-encoded, Const values in the weight manifest) → Graph.
import { EdgelmError, UnsupportedOpError, inputError } from '../../errors.js';
import type { GraphBuilder } from '../../ir/builder.js';
import { ReaderGraphBuilder } from '../builder.js';
import type { DType } from '../../ir/dtype.js';
import type { Attrs, Graph } from '../../ir/graph.js';
import type { Layout } from '../../ir/ops/nn.js';
import { sliceList, stridedSliceBounds } from '../strided-slice.js';
import type { OpType } from '../../ir/registry.js';
import type { Dim, Tensor } from '../../ir/tensor.js';
import { unnamedDim } from '../../ir/dim.js';
import { isRecord, readJsonFile, tfjsMetadata } from '../files.js';
import { foldedShape, reshapeTargetFromFolded } from '../fold.js';
import { readWeights } from '../tfjs-weights.js';

interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, Record<string, unknown>>;
}

const TF_DTYPES: Record<string, DType> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_INT64: 'int64', DT_HALF: 'float16', DT_UINT8: 'uint8', DT_INT8: 'int8' };

interface Ctx {
  b: GraphBuilder;
  node: TfNode;
  /** IR value of data input i. */
  input(i: number): string;
  /** Number of data (non-control) inputs. */
  count: number;
  konst(i: number): Tensor | undefined;
  ints(i: number, what: string): number[];
  bind(value: string, output?: number): void;
  fail(what: string): EdgelmError;
  attrI(name: string, dflt: number): number;
  attrF(name: string, dflt: number): number;
  attrB(name: string, dflt: boolean): boolean;
  attrS(name: string, dflt: string): string;
  attrInts(name: string, dflt: number[]): number[];
  attrStrs(name: string): string[];
}

const decode = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');
const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

function constOf(c: Ctx, vals: number[], shape: number[], dtype: DType = 'int32'): string {
  const data = dtype === 'float32' ? Float32Array.from(vals) : Int32Array.from(vals);
  return c.b.addConstant({ name: c.node.name, dtype, shape, data });
}

function emit(c: Ctx, op: OpType, inputs: string[], attrs: Attrs = {}, name = c.node.name): string {
  return c.b.add1(op, inputs, attrs, { name, source: c.node.name });
}

/** Spatial attributes; TF lists strides/dilations/ksize per NHWC or NCHW dim. */
function spatial(c: Ctx): Attrs & { layout: Layout } {
  const layout: Layout = c.attrS('data_format', 'NHWC') === 'NCHW' ? 'NCHW' : 'NHWC';
  const hw = (v: number[]): number[] => (layout === 'NHWC' ? [v[1] ?? 1, v[2] ?? 1] : [v[2] ?? 1, v[3] ?? 1]);
  const padding = c.attrS('padding', 'VALID');
  const attrs: Attrs & { layout: Layout } = { layout, strides: hw(c.attrInts('strides', [1, 1, 1, 1])), dilations: hw(c.attrInts('dilations', [1, 1, 1, 1])), padding };
  if (padding === 'EXPLICIT') {
    const e = c.attrInts('explicit_paddings', []); // pairs per dim in data_format order
    const [h, w] = layout === 'NHWC' ? [1, 2] : [2, 3];
    attrs.pads = [e[2 * h]!, e[2 * w]!, e[2 * h + 1]!, e[2 * w + 1]!];
  } else if (padding !== 'SAME' && padding !== 'VALID') throw c.fail(`padding '${padding}' is not supported`);
  return attrs;
}

/** The activation a fused op ends with (fused_ops[1]); args after the bias feed it. */
function fusedActivation(c: Ctx, x: string, argBase: number): string {
  const ops = c.attrStrs('fused_ops');
  if (ops[0] !== 'BiasAdd') throw c.fail(`fused ops [${ops.join(', ')}] are not supported (BiasAdd first)`);
  const act = ops[1];
  if (!act) return x;
  const out = (op: OpType, inputs: string[] = [x], attrs: Attrs = {}): string => emit(c, op, inputs, attrs);
  switch (act) {
    case 'Relu':
      return out('relu');
    case 'Relu6':
      return out('relu6');
    case 'Elu':
      return out('elu');
    case 'Sigmoid':
      return out('sigmoid');
    case 'Tanh':
      return out('tanh');
    case 'LeakyRelu':
      return out('leakyRelu', [x], { alpha: c.attrF('leakyrelu_alpha', 0.2) });
    case 'Prelu':
      return out('prelu', [x, c.input(argBase + 1)]);
    default:
      throw c.fail(`fused activation '${act}' is not supported`);
  }
}

function conv(kind: 'conv2d' | 'depthwiseConv2d', fused: boolean) {
  return (c: Ctx): void => {
    const attrs = spatial(c);
    const y = emit(c, kind, [c.input(0), c.input(1), fused ? c.input(2) : ''], attrs, fused ? `${c.node.name}/conv` : c.node.name);
    c.bind(fused ? fusedActivation(c, y, 2) : y);
  };
}

function unary(op: OpType, attrs: (c: Ctx) => Attrs = () => ({})) {
  return (c: Ctx): void => c.bind(emit(c, op, [c.input(0)], attrs(c)));
}
function binary(op: OpType) {
  return (c: Ctx): void => c.bind(emit(c, op, [c.input(0), c.input(1)]));
}
function reduce(op: OpType) {
  return (c: Ctx): void => c.bind(emit(c, op, [c.input(0)], { axes: c.ints(1, 'reduction axes'), keepDims: c.attrB('keep_dims', false) }));
}
function pool(op: 'maxPool2d' | 'avgPool2d') {
  return (c: Ctx): void => {
    const attrs = spatial(c);
    const k = c.attrInts('ksize', [1, 1, 1, 1]);
    const kernel = attrs.layout === 'NHWC' ? [k[1]!, k[2]!] : [k[2]!, k[3]!];
    const { dilations: _d, ...rest } = attrs;
    void _d;
    c.bind(emit(c, op, [c.input(0)], { ...rest, kernel }));
  };
}

const TF_OPS: Record<string, (c: Ctx) => void> = {
  Identity: (c) => c.bind(c.input(0)),
  StopGradient: (c) => c.bind(c.input(0)),
  Snapshot: (c) => c.bind(c.input(0)),
  NoOp: () => {},
  _FusedConv2D: conv('conv2d', true),
  Conv2D: conv('conv2d', false),
  FusedDepthwiseConv2dNative: conv('depthwiseConv2d', true),
  DepthwiseConv2dNative: conv('depthwiseConv2d', false),
  Conv2DBackpropInput: (c) => {
    const attrs = spatial(c);
    if ((attrs.dilations as number[]).some((d) => d !== 1)) throw c.fail('dilated transposed convolution is not supported');
    const outShape = c.ints(0, 'output shape');
    const w = c.konst(1);
    if (!w) throw c.fail('the filter must be constant');
    const [kh, kw] = w.shape as [number, number];
    const xs = c.b.typeOf(c.input(2)).shape;
    const [ih, iw] = attrs.layout === 'NHWC' ? [xs[1], xs[2]] : [xs[2], xs[3]];
    const [oh, ow] = attrs.layout === 'NHWC' ? [outShape[1]!, outShape[2]!] : [outShape[2]!, outShape[3]!];
    if (typeof ih !== 'number' || typeof iw !== 'number') throw c.fail('transposed convolution needs static spatial dims');
    const strides = attrs.strides as number[];
    // The forward convolution this is the gradient of maps [oh, ow] to [ih, iw]; its pads are ours.
    const pads = [0, 0, 0, 0];
    const outputPadding = [0, 0];
    if (typeof oh !== 'number' || typeof ow !== 'number') throw c.fail('transposed convolution needs a static output size');
    [[ih, oh, kh], [iw, ow, kw]].forEach(([inn, out, k], i) => {
      const full = (inn! - 1) * strides[i]! + k!;
      let total = 0;
      if (attrs.padding === 'SAME') total = Math.max(0, full - out!);
      else if (attrs.padding === 'EXPLICIT') total = (attrs.pads as number[])[i]! + (attrs.pads as number[])[i + 2]!;
      const begin = attrs.padding === 'EXPLICIT' ? (attrs.pads as number[])[i]! : Math.floor(total / 2);
      pads[i] = begin;
      pads[i + 2] = total - begin;
      outputPadding[i] = out! - (full - total);
      if (outputPadding[i]! < 0) throw c.fail(`output size ${out} is smaller than the convolution produces`);
    });
    c.bind(emit(c, 'conv2dTranspose', [c.input(2), c.input(1)], { layout: attrs.layout, strides, pads, outputPadding }));
  },
  MatMul: (c) => c.bind(emit(c, 'matMul', [c.input(0), c.input(1)], { transposeA: c.attrB('transpose_a', false), transposeB: c.attrB('transpose_b', false) })),
  BatchMatMul: (c) => c.bind(emit(c, 'matMul', [c.input(0), c.input(1)], { transposeA: c.attrB('adj_x', false), transposeB: c.attrB('adj_y', false) })),
  BatchMatMulV2: (c) => c.bind(emit(c, 'matMul', [c.input(0), c.input(1)], { transposeA: c.attrB('adj_x', false), transposeB: c.attrB('adj_y', false) })),
  _FusedMatMul: (c) => {
    const ta = c.attrB('transpose_a', false);
    const tb = c.attrB('transpose_b', false);
    const w = c.konst(1);
    let y: string;
    if (w && !ta && w.shape.length === 2) {
      // A constant right operand: a dense layer with weights [in, out].
      const [k, n] = tb ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
      const data = tb ? transposeFloat(w.data as Float32Array, w.shape[0]!, w.shape[1]!) : w.data;
      const wt = c.b.addConstant({ name: `${c.node.name}/kernel`, dtype: 'float32', shape: [k, n], data });
      y = emit(c, 'dense', [c.input(0), wt, c.input(2)], {}, `${c.node.name}/dense`);
    } else {
      const m = emit(c, 'matMul', [c.input(0), c.input(1)], { transposeA: ta, transposeB: tb }, `${c.node.name}/matmul`);
      y = emit(c, 'add', [m, c.input(2)], {}, `${c.node.name}/bias`);
    }
    c.bind(fusedActivation(c, y, 2));
  },
  BiasAdd: (c) => {
    let bias = c.input(1);
    if (c.attrS('data_format', 'NHWC') === 'NCHW') {
      const n = c.b.typeOf(bias).shape[0] as number;
      bias = emit(c, 'reshape', [bias], { shape: [n, 1, 1] }, `${c.node.name}/bias_nchw`);
    }
    c.bind(emit(c, 'add', [c.input(0), bias]));
  },
  Add: binary('add'),
  AddV2: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  RealDiv: binary('div'),
  Maximum: binary('maximum'),
  Minimum: binary('minimum'),
  Pow: binary('pow'),
  Relu: unary('relu'),
  Relu6: unary('relu6'),
  Elu: unary('elu'),
  Selu: (c) => {
    throw c.fail('Selu is not supported');
  },
  LeakyRelu: unary('leakyRelu', (c) => ({ alpha: c.attrF('alpha', 0.2) })),
  Prelu: binary('prelu'),
  Sigmoid: unary('sigmoid'),
  Tanh: unary('tanh'),
  Softmax: unary('softmax', () => ({ axis: -1 })),
  Abs: unary('abs'),
  Neg: unary('neg'),
  Exp: unary('exp'),
  Log: unary('log'),
  Sqrt: unary('sqrt'),
  Rsqrt: unary('rsqrt'),
  Square: unary('square'),
  Softplus: unary('softplus'),
  Erf: unary('erf'),
  Mean: reduce('reduceMean'),
  Sum: reduce('reduceSum'),
  Max: reduce('reduceMax'),
  Min: reduce('reduceMin'),
  MaxPool: pool('maxPool2d'),
  AvgPool: pool('avgPool2d'),
  FusedBatchNorm: (c) => c.bind(emit(c, 'batchNorm', [0, 1, 2, 3, 4].map((i) => c.input(i)), { axis: c.attrS('data_format', 'NHWC') === 'NCHW' ? 1 : -1, epsilon: c.attrF('epsilon', 1e-3) })),
  FusedBatchNormV3: (c) => TF_OPS.FusedBatchNorm!(c),
  Pad: (c) => {
    const p = c.ints(1, 'paddings');
    const r = p.length / 2;
    c.bind(emit(c, 'pad', [c.input(0)], { pads: [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)] }));
  },
  PadV2: (c) => {
    const p = c.ints(1, 'paddings');
    const r = p.length / 2;
    const value = values(c.konst(2) ?? { name: '', dtype: 'float32', shape: [], data: Float32Array.of(0) })[0]!;
    c.bind(emit(c, 'pad', [c.input(0)], { pads: [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)], value }));
  },
  ConcatV2: (c) => {
    const axis = c.ints(c.count - 1, 'concat axis')[0]!;
    const ins = Array.from({ length: c.count - 1 }, (_, i) => i);
    if (ins.every((i) => c.konst(i)?.shape.length === 1)) {
      const all = ins.flatMap((i) => values(c.konst(i)!));
      return c.bind(constOf(c, all, [all.length], c.konst(0)!.dtype));
    }
    c.bind(emit(c, 'concat', ins.map((i) => c.input(i)), { axis }));
  },
  Reshape: (c) => {
    const k = c.konst(0);
    const target = c.ints(1, 'reshape target');
    const shape = reshapeTargetFromFolded(target, c.b.typeOf(c.input(0)).shape);
    if (typeof shape === 'string') throw c.fail(`reshape target ${shape}`);
    if (k) return c.bind(c.b.addConstant({ ...k, name: c.node.name, shape: shape.map((d, i) => (d === 0 ? k.shape[i]! : d === -1 ? k.data.length / Math.abs(shape.reduce((p, q) => p * (q === -1 ? 1 : q), 1)) : d)) }));
    c.bind(emit(c, 'reshape', [c.input(0)], { shape }));
  },
  Squeeze: (c) => c.bind(emit(c, 'squeeze', [c.input(0)], { axes: c.attrInts('squeeze_dims', c.attrInts('axis', [])) })),
  ExpandDims: (c) => {
    const rank = c.b.typeOf(c.input(0)).shape.length;
    const dim = c.ints(1, 'expand_dims axis')[0]!;
    c.bind(emit(c, 'unsqueeze', [c.input(0)], { axes: [dim < 0 ? dim + rank + 1 : dim] }));
  },
  Transpose: (c) => c.bind(emit(c, 'transpose', [c.input(0)], { perm: c.ints(1, 'perm') })),
  Cast: (c) => {
    const to = TF_DTYPES[String(c.node.attr.DstT?.type)];
    if (!to) throw c.fail(`cast to ${String(c.node.attr.DstT?.type)} is not supported`);
    const k = c.konst(0);
    if (k) return c.bind(constOf(c, values(k), k.shape, to === 'float32' ? 'float32' : 'int32'));
    c.bind(emit(c, 'cast', [c.input(0)], { to }));
  },
  GatherV2: (c) => c.bind(emit(c, 'gather', [c.input(0), c.input(1)], { axis: c.ints(2, 'gather axis')[0]! })),
  Shape: (c) => {
    const shape = c.b.typeOf(c.input(0)).shape;
    c.bind(constOf(c, foldedShape(shape), [shape.length]));
  },
  Pack: (c) => {
    const axis = c.attrI('axis', 0);
    const ins = Array.from({ length: c.count }, (_, i) => i);
    // ins.length: with no inputs `every` holds and there is no konst(0) to take the dtype from.
    if (ins.length > 0 && ins.every((i) => c.konst(i) && c.konst(i)!.shape.length === 0) && axis === 0) {
      return c.bind(constOf(c, ins.map((i) => values(c.konst(i)!)[0]!), [c.count], c.konst(0)!.dtype));
    }
    const parts = ins.map((i) => emit(c, 'unsqueeze', [c.input(i)], { axes: [axis] }, `${c.node.name}/${i}`));
    c.bind(emit(c, 'concat', parts, { axis }));
  },
  StridedSlice: (c) => stridedSlice(c),
};

/** TF StridedSlice: masks decide which of begin/end apply and which axes are added or dropped. */
function stridedSlice(c: Ctx): void {
  const begin = c.ints(1, 'begin');
  const end = c.ints(2, 'end');
  const strides = c.ints(3, 'strides');
  const [bm, em, elm, nam, sam] = ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map((k) => c.attrI(k, 0)) as [number, number, number, number, number];
  if (elm || nam) throw c.fail('StridedSlice with ellipsis or new-axis masks is not supported');
  // sliceBounds throws a ShapeError (not an EdgelmError) on stride 0; the fold below (sliceList) calls it directly.
  if (strides.some((s) => s === 0)) throw inputError(c.b.file, `node '${c.node.name}' (StridedSlice): stride 0`);
  const { starts, ends, steps, shrink } = stridedSliceBounds(begin, end, strides, { begin: bm, end: em, shrink: sam });
  const axes = begin.map((_, i) => i);
  const k = c.konst(0);
  if (k && k.shape.length === 1) {
    const out = sliceList(values(k), starts[0]!, ends[0]!, steps[0]!);
    return c.bind(constOf(c, out, shrink.length ? [] : [out.length], k.dtype));
  }
  let y = emit(c, 'slice', [c.input(0)], { starts, ends, axes, steps }, shrink.length ? `${c.node.name}/slice` : c.node.name);
  if (shrink.length) y = emit(c, 'squeeze', [y], { axes: shrink });
  c.bind(y);
}

function transposeFloat(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) out[q * rows + r] = data[r * cols + q]!;
  return out;
}

function parseNodes(file: string, topology: unknown): TfNode[] {
  if (!isRecord(topology) || !Array.isArray(topology.node)) throw inputError(file, 'modelTopology.node must be a list (is this a TF.js GraphModel?)');
  if (isRecord(topology.library) && Array.isArray(topology.library.function) && topology.library.function.length)
    throw new EdgelmError('unsupported', `${file}: GraphModels with control flow functions are not supported`);
  return topology.node.map((n, i) => {
    if (!isRecord(n) || typeof n.name !== 'string' || typeof n.op !== 'string') throw inputError(file, `modelTopology.node[${i}] needs "name" and "op"`);
    const input = Array.isArray(n.input) ? n.input.map(String) : [];
    const attr = isRecord(n.attr) ? (n.attr as Record<string, Record<string, unknown>>) : {};
    return { name: n.name, op: n.op, input, attr };
  });
}

/** Orders nodes so every data input comes first (GraphDefs need not be sorted). */
function topoSort(file: string, nodes: TfNode[]): TfNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 1 | 2>();
  const out: TfNode[] = [];
  const visit = (n: TfNode): void => {
    const s = state.get(n.name);
    if (s === 2) return;
    if (s === 1) throw inputError(file, `node '${n.name}' is part of a cycle`);
    state.set(n.name, 1);
    for (const i of n.input) {
      const dep = byName.get(i.replace(/^\^/, '').replace(/:\d+$/, ''));
      if (!dep) throw inputError(file, `node '${n.name}' reads '${i}', which no node defines`);
      visit(dep);
    }
    state.set(n.name, 2);
    out.push(n);
  };
  for (const n of nodes) visit(n);
  return out;
}

export function readGraphModel(file: string, json: unknown = readJsonFile(file)): Graph {
  if (!isRecord(json)) throw inputError(file, 'model.json must be a JSON object');
  const nodes = topoSort(file, parseNodes(file, json.modelTopology));
  const unsupported = new Map<string, string>();
  for (const n of nodes) if (n.op !== 'Const' && n.op !== 'Placeholder' && !Object.hasOwn(TF_OPS, n.op) && !unsupported.has(n.op)) unsupported.set(n.op, n.name);
  if (unsupported.size) throw new UnsupportedOpError(file, 'the GraphModel', unsupported, ['Const', 'Placeholder', ...Object.keys(TF_OPS)]);

  const weights = readWeights(file, json.weightsManifest ?? []);
  const b = new ReaderGraphBuilder(file);
  const irValues = new Map<string, string>(); // "node" or "node:k" → IR value
  const valueOf = (ref: string, reader: string): string => {
    const key = ref.endsWith(':0') ? ref.slice(0, -2) : ref;
    const v = irValues.get(key);
    if (v === undefined) throw inputError(file, `node '${reader}' reads '${ref}', which is not computed`);
    return v;
  };

  for (const node of nodes) {
    if (node.op === 'Const') {
      const w = weights.get(node.name);
      if (!w) throw inputError(file, `constant '${node.name}' has no entry in the weights manifest`);
      irValues.set(node.name, b.addConstant({ ...w, name: node.name }));
      continue;
    }
    if (node.op === 'Placeholder') {
      const dtype = TF_DTYPES[String(node.attr.dtype?.type)];
      if (!dtype) throw inputError(file, `input '${node.name}': unsupported dtype ${String(node.attr.dtype?.type)}`);
      const dims = (node.attr.shape?.shape as { dim?: unknown } | undefined)?.dim ?? [];
      // From untrusted JSON: a list of {size}, each an integer (negative: unknown); NaN dims would spread.
      if (!Array.isArray(dims)) throw inputError(file, `input '${node.name}': shape.dim must be a list`);
      const shape: Dim[] = dims.map((d, i) => {
        const v = Number(isRecord(d) ? (d.size ?? -1) : Number.NaN);
        if (!Number.isSafeInteger(v)) throw inputError(file, `input '${node.name}': invalid dim ${JSON.stringify(d)}`);
        return v < 0 ? unnamedDim(node.name, i) : v;
      });
      irValues.set(node.name, b.addInput(node.name, dtype, shape));
      continue;
    }
    const data = node.input.filter((i) => !i.startsWith('^'));
    // An attr list's values must be a JSON array: a damaged model.json can hold a string or an object there.
    const listOf = (k: string, v: unknown): unknown[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v)) throw inputError(file, `node '${node.name}' (${node.op}): attr '${k}' list is not an array`);
      return v;
    };
    const attr = (k: string): Record<string, unknown> | undefined => node.attr[k];
    const ctx: Ctx = {
      b,
      node,
      count: data.length,
      input: (i) => {
        const ref = data[i];
        if (ref === undefined) throw inputError(file, `node '${node.name}' (${node.op}) needs input ${i}`);
        return valueOf(ref, node.name);
      },
      konst: (i) => (data[i] === undefined ? undefined : b.constant(valueOf(data[i]!, node.name))),
      ints(i, what) {
        const k = this.konst(i);
        if (!k) throw this.fail(`${what} must be constant`);
        // A float constant where ints belong (a damaged dtype) gives fractional strides: loops that never end.
        const v = values(k);
        if (!v.every(Number.isInteger)) throw inputError(file, `node '${node.name}' (${node.op}): ${what} must hold integers`);
        return v;
      },
      bind: (value, output = 0) => irValues.set(output ? `${node.name}:${output}` : node.name, value),
      fail: (what) => new EdgelmError('unsupported', `${file}: node ${node.name} (${node.op}): ${what}`),
      attrI: (k, d) => (attr(k)?.i !== undefined ? Number(attr(k)!.i) : d),
      attrF: (k, d) => (typeof attr(k)?.f === 'number' ? (attr(k)!.f as number) : d),
      attrB: (k, d) => (typeof attr(k)?.b === 'boolean' ? (attr(k)!.b as boolean) : d),
      attrS: (k, d) => (attr(k)?.s !== undefined ? decode(attr(k)!.s) : d),
      attrInts: (k, d) => {
        const l = attr(k)?.list as { i?: unknown } | undefined;
        return l ? listOf(k, l.i).map(Number) : d;
      },
      attrStrs: (k) => listOf(k, (attr(k)?.list as { s?: unknown } | undefined)?.s).map(decode),
    };
    TF_OPS[node.op]!(ctx);
  }

  const outputs = outputNames(json, nodes).map((ref) => valueOf(ref, 'signature'));
  return b.build('graph_model', 'tfjs-graph', outputs, { producer: String(json.convertedBy ?? 'TensorFlow.js Converter'), ...tfjsMetadata(json) });
}


/** Outputs from the signature, or else the nodes nothing reads. */
function outputNames(json: Record<string, unknown>, nodes: TfNode[]): string[] {
  const sig = json.signature;
  if (isRecord(sig) && isRecord(sig.outputs)) {
    const names = Object.values(sig.outputs).map((o) => (isRecord(o) && typeof o.name === 'string' ? o.name : ''));
    if (names.length && names.every(Boolean)) return names;
  }
  const read = new Set(nodes.flatMap((n) => n.input.map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  return nodes.filter((n) => !read.has(n.name) && n.op !== 'NoOp' && n.op !== 'Const').map((n) => n.name);
}
