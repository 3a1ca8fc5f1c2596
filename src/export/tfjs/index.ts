// TF.js writer: a GraphModel (model.json + weight shards) in the format tensorflowjs_converter writes
// from TensorFlow — GraphDef nodes as JSON (int64 as strings, strings base64), weights as Const nodes
// listed in the manifest. Weight quantization is the converter's: uint8 codes with per-tensor
// min/scale (value = code·scale + min, zero exact) or float16.
import { UnsupportedOpError, usageError } from '../../errors.js';
import type { DType, TypedArray } from '../../ir/dtype.js';
import { decodeHalfs, floatToHalf } from '../../ir/float16.js';
import type { Dim } from '../../ir/dim.js';

/** TF.js graphs write a run-time dim as −1. */
const orMinus1 = (d: Dim): number => (typeof d === 'number' ? d : -1);
import { requireOps, type Graph, type Node } from '../../ir/graph.js';
import { requireStaticValues } from '../../ir/value-dims.js';
import { inferTypes } from '../../ir/infer.js';
import { requireRankAtMost } from '../../ir/verify.js';
import type { ValueType } from '../../ir/op.js';
import type { Layout } from '../../ir/ops/nn.js';
import { foldBatchNorm, type FoldChoice } from '../../ir/passes/fold-batchnorm.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { sliceBounds } from '../../ir/ops/structure.js';
import { dequantizeTensor, quantizeTensor } from '../../quantize/minmax.js';
import type { QuantPlan } from '../../quantize/plan.js';
import { VERSION } from '../../version.js';

type Attr = Record<string, unknown>;
interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}
interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'float16'; min?: number; scale?: number; original_dtype?: string };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const A = {
  type: (d: 'float32' | 'int32' | 'bool' = 'float32'): Attr => ({ type: d === 'int32' ? 'DT_INT32' : d === 'bool' ? 'DT_BOOL' : 'DT_FLOAT' }),
  s: (s: string): Attr => ({ s: b64(s) }),
  i: (i: number): Attr => ({ i: String(i) }),
  f: (f: number): Attr => ({ f }),
  b: (b: boolean): Attr => ({ b }),
  ints: (v: readonly number[]): Attr => ({ list: { i: v.map(String) } }),
  shape: (dims: readonly number[]): Attr => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } }),
};
const tensorShape = (dims: readonly number[]): Attr => ({ dim: dims.map((d) => ({ size: String(d) })) });

/** Weight shards of at most 4 MiB, as the converter writes them. */
const SHARD_BYTES = 4 * 1024 * 1024;

class Writer {
  readonly nodes: TfNode[] = [];
  readonly weights: { entry: ManifestEntry; bytes: Uint8Array }[] = [];
  readonly types: Map<string, ValueType>;
  private n = 0;
  private readonly written = new Set<string>();
  constructor(
    readonly graph: Graph,
    readonly file: string,
    readonly plan?: QuantPlan,
  ) {
    this.types = inferTypes(graph, file);
  }
  fresh(base: string): string {
    return `${base}/_${this.n++}`;
  }
  node(name: string, op: string, input: string[], attr: Attr = {}): string {
    this.nodes.push({ name, op, input, attr: { T: A.type(), ...attr } });
    return name;
  }
  /** A Const node with its data in the manifest (float weights quantized as the plan says). */
  konst(name: string, dtype: 'float32' | 'int32', shape: number[], data: TypedArray, quantize = false): string {
    if (this.written.has(name)) return name;
    this.written.add(name);
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: A.type(dtype).type, tensorShape: tensorShape(shape) } }, dtype: A.type(dtype) } });
    const entry: ManifestEntry = { name, shape, dtype };
    let bytes: Uint8Array;
    const mode = quantize && dtype === 'float32' ? this.plan?.mode : undefined;
    if (mode === 'float16') {
      entry.quantization = { dtype: 'float16', original_dtype: 'float32' };
      bytes = new Uint8Array(Uint16Array.from(data as Float32Array, floatToHalf).buffer);
    } else if (mode === 'dynamic' || mode === 'int8') {
      // Q(x) over [0, 255] per tensor; the converter stores min = −z·scale so that 0 decodes exactly.
      const q = quantizeTensor(name, data as Float32Array, shape, { bits: 8, signed: false, symmetric: false, narrow: false, granularity: 'tensor' });
      const [scale, zeroPoint] = [q.params.scale[0]!, q.params.zeroPoint[0]!];
      bytes = q.codes as Uint8Array;
      entry.quantization = { dtype: 'uint8', min: -zeroPoint * scale, scale, original_dtype: 'float32' };
    } else {
      const typed = dtype === 'int32' ? Int32Array.from(data as ArrayLike<number | bigint>, (v) => Number(v)) : data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
      bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    }
    this.weights.push({ entry, bytes });
    return name;
  }
  ints(base: string, v: readonly number[], shape = [v.length]): string {
    return this.konst(this.fresh(base), 'int32', shape, Int32Array.from(v));
  }
  floats(base: string, v: Float32Array, shape: number[]): string {
    return this.konst(this.fresh(base), 'float32', shape, v);
  }
  /** The value's name as a node input: graph constants become Const nodes on first use. */
  input(v: string): string {
    const c = this.graph.constants.get(v);
    if (c) return this.konst(v, c.dtype === 'int32' || c.dtype === 'int64' ? 'int32' : 'float32', c.shape, c.dtype === 'float16' ? decodeHalfs(c.data as Uint16Array) : c.data);
    return v;
  }
  /** A layer weight: quantized unless the plan excludes the node. */
  weight(node: Node, index: number): string {
    const v = node.inputs[index]!;
    const c = this.graph.constants.get(v);
    if (!c || c.dtype !== 'float32') return this.input(v);
    return this.konst(v, 'float32', c.shape, c.data, !!this.plan && !this.plan.exclude(node));
  }
  rank(v: string): number {
    return this.types.get(v)!.shape.length;
  }
  toNhwc(v: string, layout: Layout): string {
    return layout === 'NCHW' ? this.node(this.fresh(`${v}/to_nhwc`), 'Transpose', [v, this.ints('perm', [0, 2, 3, 1])], { Tperm: A.type('int32') }) : v;
  }
  /** Writes an NHWC result under the IR value's name (transposed back for NCHW). */
  fromNhwc(build: (name: string) => string, out: string, layout: Layout): void {
    if (layout === 'NHWC') return void build(out);
    const y = build(this.fresh(`${out}/nhwc`));
    this.node(out, 'Transpose', [y, this.ints('perm', [0, 3, 1, 2])], { Tperm: A.type('int32') });
  }
}

type Emit = (w: Writer, n: Node, a: Record<string, unknown>) => void;
const out0 = (n: Node): string => n.outputs[0]!;
const unary = (op: string): Emit => (w, n) => void w.node(out0(n), op, [w.input(n.inputs[0]!)]);
const binary = (op: string): Emit => (w, n) => void w.node(out0(n), op, [w.input(n.inputs[0]!), w.input(n.inputs[1]!)]);
const strides4 = (s: readonly number[]): Attr => A.ints([1, s[0]!, s[1]!, 1]);

function padding(w: Writer, n: Node, a: Record<string, unknown>, x: string, layout: Layout): { x: string; pad: string } {
  if (a.padding === 'SAME') return { x, pad: 'SAME' };
  const p = (a.pads as number[] | undefined) ?? [0, 0, 0, 0];
  if (a.padding !== 'EXPLICIT' || p.every((v) => v === 0)) return { x, pad: 'VALID' };
  // [top, left, bottom, right] → an explicit Pad before a VALID op (NHWC).
  void layout;
  const padded = w.node(w.fresh(`${n.name}/pad`), 'Pad', [x, w.ints('paddings', [0, 0, p[0]!, p[2]!, p[1]!, p[3]!, 0, 0], [4, 2])], { Tpaddings: A.type('int32') });
  return { x: padded, pad: 'VALID' };
}

function withBias(w: Writer, n: Node, build: (name: string) => string, out: string): string {
  if (!n.inputs[2]) return build(out);
  const y = build(w.fresh(`${out}/nobias`));
  return w.node(out, 'BiasAdd', [y, w.input(n.inputs[2])], { data_format: A.s('NHWC') });
}

const EMIT: Partial<Record<OpType, Emit>> = {
  relu: unary('Relu'),
  relu6: unary('Relu6'),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  abs: unary('Abs'),
  neg: unary('Neg'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  rsqrt: unary('Rsqrt'),
  reciprocal: unary('Reciprocal'),
  square: unary('Square'),
  round: unary('Round'),
  elu: (w, n, a) => {
    if (a.alpha !== 1) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['elu with alpha ≠ 1', n.name]]));
    unary('Elu')(w, n, a);
  },
  softplus: unary('Softplus'),
  identity: unary('Identity'),
  leakyRelu: (w, n, a) => void w.node(out0(n), 'LeakyRelu', [w.input(n.inputs[0]!)], { alpha: A.f(a.alpha as number) }),
  prelu: binary('Prelu'),
  add: binary('AddV2'),
  sub: binary('Sub'),
  mul: binary('Mul'),
  div: binary('RealDiv'),
  maximum: binary('Maximum'),
  minimum: binary('Minimum'),
  pow: binary('Pow'),
  clip: (w, n, a) => {
    let x = w.input(n.inputs[0]!);
    const lo = a.min as number;
    const hi = a.max as number;
    if (lo !== -Infinity) x = w.node(hi === Infinity ? out0(n) : w.fresh(`${n.name}/max`), 'Maximum', [x, w.floats('lo', Float32Array.of(lo), [])]);
    if (hi !== Infinity) x = w.node(out0(n), 'Minimum', [x, w.floats('hi', Float32Array.of(hi), [])]);
    if (lo === -Infinity && hi === Infinity) w.node(out0(n), 'Identity', [x]);
  },
  swish: (w, n) => {
    const x = w.input(n.inputs[0]!);
    w.node(out0(n), 'Mul', [x, w.node(w.fresh(`${n.name}/sigmoid`), 'Sigmoid', [x])]);
  },
  softmax: (w, n, a) => {
    const rank = w.rank(n.inputs[0]!);
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    if (axis !== rank - 1) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['softmax over a non-last axis', n.name]]));
    w.node(out0(n), 'Softmax', [w.input(n.inputs[0]!)]);
  },
  dense: (w, n) => {
    const x = w.input(n.inputs[0]!);
    // Rank > 2 inputs ([batch, time, in]) broadcast the weight with BatchMatMulV2.
    const [op, attr] = w.rank(n.inputs[0]!) === 2 ? ['MatMul', { transpose_a: A.b(false), transpose_b: A.b(false) }] : ['BatchMatMulV2', { adj_x: A.b(false), adj_y: A.b(false) }];
    withBias(w, n, (name) => w.node(name, op, [x, w.weight(n, 1)], attr), out0(n));
  },
  matMul: (w, n, a) => {
    const [x, y] = [w.input(n.inputs[0]!), w.graph.constants.has(n.inputs[1]!) ? w.weight(n, 1) : w.input(n.inputs[1]!)];
    if (w.rank(n.inputs[0]!) === 2 && w.rank(n.inputs[1]!) === 2) w.node(out0(n), 'MatMul', [x, y], { transpose_a: A.b(a.transposeA as boolean), transpose_b: A.b(a.transposeB as boolean) });
    else w.node(out0(n), 'BatchMatMulV2', [x, y], { adj_x: A.b(a.transposeA as boolean), adj_y: A.b(a.transposeB as boolean) });
  },
  conv2d: (w, n, a) => {
    if (a.group !== 1) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['grouped conv2d', n.name]]));
    const layout = a.layout as Layout;
    const p = padding(w, n, a, w.toNhwc(w.input(n.inputs[0]!), layout), layout);
    const d = a.dilations as number[];
    w.fromNhwc((out) => withBias(w, n, (name) => w.node(name, 'Conv2D', [p.x, w.weight(n, 1)], { strides: strides4(a.strides as number[]), padding: A.s(p.pad), data_format: A.s('NHWC'), dilations: A.ints([1, d[0]!, d[1]!, 1]) }), out), out0(n), layout);
  },
  depthwiseConv2d: (w, n, a) => {
    const layout = a.layout as Layout;
    const p = padding(w, n, a, w.toNhwc(w.input(n.inputs[0]!), layout), layout);
    const d = a.dilations as number[];
    w.fromNhwc((out) => withBias(w, n, (name) => w.node(name, 'DepthwiseConv2dNative', [p.x, w.weight(n, 1)], { strides: strides4(a.strides as number[]), padding: A.s(p.pad), data_format: A.s('NHWC'), dilations: A.ints([1, d[0]!, d[1]!, 1]) }), out), out0(n), layout);
  },
  conv2dTranspose: (w, n, a) => {
    const layout = a.layout as Layout;
    const x = w.toNhwc(w.input(n.inputs[0]!), layout);
    const k = w.graph.constants.get(n.inputs[1]!)!;
    const [kh, kw, cout] = k.shape as [number, number, number];
    const inShape = w.types.get(n.inputs[0]!)!.shape;
    const [h, wd] = (layout === 'NCHW' ? [inShape[2]!, inShape[3]!] : [inShape[1]!, inShape[2]!]) as number[];
    if (typeof h !== 'number' || typeof wd !== 'number') throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['transposed convolution over run-time spatial dims', n.name]]));
    const [sh, sw] = a.strides as [number, number];
    const pads = a.pads as number[];
    const op = a.outputPadding as number[];
    if (op.some((v) => v > 0)) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['transposed convolution with output padding', n.name]]));
    // VALID Conv2DBackpropInput gives the full (h−1)·s + k result; the IR's pads are then cropped.
    const full = [(h - 1) * sh + kh, (wd - 1) * sw + kw, cout];
    let outputShape: string;
    if (typeof inShape[0] === 'number') outputShape = w.ints('output_shape', [inShape[0], ...full]);
    else {
      // A run-time batch: output_shape = [shape(x)[0], ...] built the way TensorFlow's graphs do.
      const shape = w.node(w.fresh(`${n.name}/shape`), 'Shape', [x], { out_type: A.type('int32') });
      const batch = w.node(w.fresh(`${n.name}/batch`), 'StridedSlice', [shape, w.ints('b', [0]), w.ints('e', [1]), w.ints('s', [1])], {
        T: A.type('int32'), Index: A.type('int32'), begin_mask: A.i(0), end_mask: A.i(0), ellipsis_mask: A.i(0), new_axis_mask: A.i(0), shrink_axis_mask: A.i(1),
      });
      outputShape = w.node(w.fresh(`${n.name}/output_shape`), 'Pack', [batch, ...full.map((d) => w.ints('d', [d], []))], { T: A.type('int32'), N: A.i(4), axis: A.i(0) });
    }
    const crop = pads.some((v) => v !== 0);
    w.fromNhwc((out) => {
      const conv = (name: string): string => w.node(name, 'Conv2DBackpropInput', [outputShape, w.weight(n, 1), x], { strides: strides4([sh, sw]), padding: A.s('VALID'), data_format: A.s('NHWC'), dilations: A.ints([1, 1, 1, 1]) });
      const cropped = (name: string): string => {
        if (!crop) return conv(name);
        const y = conv(w.fresh(`${n.name}/full`));
        const size = [-1, full[0]! - pads[0]! - pads[2]!, full[1]! - pads[1]! - pads[3]!, cout];
        return w.node(name, 'Slice', [y, w.ints('begin', [0, pads[0]!, pads[1]!, 0]), w.ints('size', size)], { Index: A.type('int32') });
      };
      return withBias(w, n, cropped, out);
    }, out0(n), layout);
  },
  slice: (w, n, a) => {
    const shape = w.types.get(n.inputs[0]!)!.shape;
    const rank = shape.length;
    const begin = new Array<number>(rank).fill(0);
    const end = new Array<number>(rank).fill(0);
    const strides = new Array<number>(rank).fill(1);
    let beginMask = (1 << rank) - 1;
    let endMask = (1 << rank) - 1;
    (a.axes as number[]).forEach((ax, j) => {
      const axis = ax < 0 ? ax + rank : ax;
      const dim = shape[axis];
      const [start, stop, step] = [(a.starts as number[])[j]!, (a.ends as number[])[j]!, (a.steps as number[])[j] ?? 1];
      if (typeof start !== 'number' || typeof stop !== 'number') throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['slice with run-time bounds', n.name]]));
      if (typeof dim !== 'number') {
        // StridedSlice takes Python-style bounds itself; only an open end needs the mask.
        if (step < 0) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['reverse slice along a run-time dim', n.name]]));
        begin[axis] = start;
        strides[axis] = step;
        beginMask &= ~(1 << axis);
        if (stop < 2 ** 31 - 1) {
          end[axis] = stop;
          endMask &= ~(1 << axis);
        }
        return;
      }
      const [b, e, s] = sliceBounds(dim, start, stop, step);
      begin[axis] = b;
      end[axis] = e;
      strides[axis] = s;
      beginMask &= ~(1 << axis);
      if (e >= 0) endMask &= ~(1 << axis); // a negative end means "through index 0": keep the mask
    });
    w.node(out0(n), 'StridedSlice', [w.input(n.inputs[0]!), w.ints('begin', begin), w.ints('end', end), w.ints('strides', strides)], {
      Index: A.type('int32'), begin_mask: A.i(beginMask), end_mask: A.i(endMask), ellipsis_mask: A.i(0), new_axis_mask: A.i(0), shrink_axis_mask: A.i(0),
    });
  },
  maxPool2d: (w, n, a) => pool(w, n, a, 'MaxPool'),
  avgPool2d: (w, n, a) => pool(w, n, a, 'AvgPool'),
  batchNorm: (w, n, a) => {
    // x·k + (offset − mean·k) along the channel axis, as constants broadcasting from the right.
    const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => w.graph.constants.get(n.inputs[i]!)!);
    const c = scale!.data.length;
    const k = Float32Array.from({ length: c }, (_, i) => (scale!.data[i] as number) / Math.sqrt((variance!.data[i] as number) + (a.epsilon as number)));
    const b = Float32Array.from({ length: c }, (_, i) => (offset!.data[i] as number) - (mean!.data[i] as number) * k[i]!);
    const rank = w.rank(n.inputs[0]!);
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const shape = Array.from({ length: rank - axis }, (_, i) => (i === 0 ? c : 1));
    const m = w.node(w.fresh(`${n.name}/mul`), 'Mul', [w.input(n.inputs[0]!), w.floats('k', k, shape)]);
    w.node(out0(n), 'AddV2', [m, w.floats('b', b, shape)]);
  },
  layerNorm: (w, n, a) => {
    // The converter has no layer norm op; this is TF's own (tf.nn.moments, then normalize) in ops it runs:
    // (x − mean)·rsqrt(mean((x − mean)²) + ε)·gamma (+ beta) over the axes from `axis` to the last.
    const rank = w.rank(n.inputs[0]!);
    const start = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const axes = w.ints('axes', Array.from({ length: rank - start }, (_, i) => start + i));
    const keep = { keep_dims: A.b(true), Tidx: A.type('int32') };
    const x = w.input(n.inputs[0]!);
    const mean = w.node(w.fresh(`${n.name}/mean`), 'Mean', [x, axes], keep);
    const centred = w.node(w.fresh(`${n.name}/centred`), 'Sub', [x, mean]);
    const variance = w.node(w.fresh(`${n.name}/variance`), 'Mean', [w.node(w.fresh(`${n.name}/squared`), 'Square', [centred]), axes], keep);
    const inv = w.node(w.fresh(`${n.name}/rsqrt`), 'Rsqrt', [w.node(w.fresh(`${n.name}/var_eps`), 'AddV2', [variance, w.floats('eps', Float32Array.of(a.epsilon as number), [])])]);
    const normed = w.node(w.fresh(`${n.name}/normed`), 'Mul', [centred, inv]);
    const beta = n.inputs[2];
    const scaled = w.node(beta ? w.fresh(`${n.name}/scaled`) : out0(n), 'Mul', [normed, w.input(n.inputs[1]!)]);
    if (beta) w.node(out0(n), 'AddV2', [scaled, w.input(beta)]);
  },
  reshape: (w, n) => {
    const shape = w.types.get(out0(n))!.shape;
    if (shape.filter((d) => typeof d !== 'number').length > 1) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['reshape with several run-time dims', n.name]]));
    w.node(out0(n), 'Reshape', [w.input(n.inputs[0]!), w.ints('shape', shape.map(orMinus1))], { Tshape: A.type('int32') });
  },
  squeeze: (w, n) => reshapeLike(w, n),
  unsqueeze: (w, n) => reshapeLike(w, n),
  transpose: (w, n, a) => {
    const rank = w.rank(n.inputs[0]!);
    const perm = (a.perm as number[]).length ? (a.perm as number[]) : Array.from({ length: rank }, (_, i) => rank - 1 - i);
    w.node(out0(n), 'Transpose', [w.input(n.inputs[0]!), w.ints('perm', perm)], { Tperm: A.type('int32') });
  },
  concat: (w, n, a) => {
    const rank = w.rank(n.inputs[0]!);
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    w.node(out0(n), 'ConcatV2', [...n.inputs.map((v) => w.input(v)), w.ints('axis', [axis], [])], { N: A.i(n.inputs.length), Tidx: A.type('int32') });
  },
  pad: (w, n, a) => {
    if (a.mode !== 'constant') throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([[`pad mode ${a.mode}`, n.name]]));
    const rank = w.rank(n.inputs[0]!);
    const pads = a.pads as number[];
    const paddings = w.ints('paddings', Array.from({ length: rank }, (_, d) => [pads[d]!, pads[d + rank]!]).flat(), [rank, 2]);
    if (a.value === 0) w.node(out0(n), 'Pad', [w.input(n.inputs[0]!), paddings], { Tpaddings: A.type('int32') });
    else w.node(out0(n), 'PadV2', [w.input(n.inputs[0]!), paddings, w.floats('value', Float32Array.of(a.value as number), [])], { Tpaddings: A.type('int32') });
  },
  reduceMean: (w, n, a) => reduce(w, n, a, 'Mean'),
  reduceSum: (w, n, a) => reduce(w, n, a, 'Sum'),
  reduceMax: (w, n, a) => reduce(w, n, a, 'Max'),
  reduceMin: (w, n, a) => reduce(w, n, a, 'Min'),
};

function reshapeLike(w: Writer, n: Node): void {
  const shape = w.types.get(out0(n))!.shape;
  w.node(out0(n), 'Reshape', [w.input(n.inputs[0]!), w.ints('shape', shape.map(orMinus1))], { Tshape: A.type('int32') });
}

function reduce(w: Writer, n: Node, a: Record<string, unknown>, op: string): void {
  const rank = w.rank(n.inputs[0]!);
  const axes = (a.axes as number[]).length ? (a.axes as number[]) : Array.from({ length: rank }, (_, i) => i);
  w.node(out0(n), op, [w.input(n.inputs[0]!), w.ints('axes', axes)], { keep_dims: A.b(a.keepDims === true), Tidx: A.type('int32') });
}

function pool(w: Writer, n: Node, a: Record<string, unknown>, op: string): void {
  const layout = a.layout as Layout;
  const k = a.kernel as number[];
  let x = w.toNhwc(w.input(n.inputs[0]!), layout);
  let pad = 'VALID';
  if (a.padding === 'SAME') pad = 'SAME';
  else if (a.padding === 'EXPLICIT' && (a.pads as number[]).some((v) => v !== 0)) {
    if (op === 'AvgPool' && !a.countIncludePad) throw new UnsupportedOpError(w.file, 'the TF.js writer', new Map([['average pooling with explicit pads that exclude padding', n.name]]));
    const p = a.pads as number[];
    const fill = op === 'MaxPool' ? -3.4e38 : 0;
    x = w.node(w.fresh(`${n.name}/pad`), 'PadV2', [x, w.ints('paddings', [0, 0, p[0]!, p[2]!, p[1]!, p[3]!, 0, 0], [4, 2]), w.floats('fill', Float32Array.of(fill), [])], { Tpaddings: A.type('int32') });
  }
  w.fromNhwc((out) => w.node(out, op, [x], { ksize: A.ints([1, k[0]!, k[1]!, 1]), strides: strides4(a.strides as number[]), padding: A.s(pad), data_format: A.s('NHWC') }), out0(n), layout);
}

export interface TfjsFiles {
  /** model.json then the shards, as paths relative to the model.json's folder. */
  files: { name: string; bytes: Uint8Array }[];
}

/** The converter's uint8 scheme: one scale and zero point per tensor. */
const UINT8_TENSOR = { bits: 8, signed: false, symmetric: false, narrow: false, granularity: 'tensor' } as const;

/**
 * Folds a batch norm only when the folded kernel's uint8 error is at most 1 dB above the unfolded
 * kernel's error scaled by the batch norm (both against the folded float kernel): per-channel factors
 * spanning decades would otherwise leave the small channels a few codes (issue 16: MobileNetV2's
 * depthwise kernels at 6.7 dB).
 */
const foldKeepsUint8Error: FoldChoice = (w, k, folded) => {
  const c = k.length;
  const err = (q: Float32Array, scale: (i: number) => number, ref: Float32Array) => q.reduce((s, v, i) => s + (v * scale(i) - ref[i]!) ** 2, 0);
  const decode = (data: Float32Array) => {
    const q = quantizeTensor('', data, w.shape, UINT8_TENSOR);
    return dequantizeTensor(q.codes, w.shape, q.params);
  };
  const foldedErr = err(decode(folded), () => 1, folded);
  const unfoldedErr = err(decode(w.data as Float32Array), (i) => k[i % c]!, folded);
  return foldedErr <= unfoldedErr * 10 ** 0.1;
};

/**
 * Renames nodes (and their weights) whose names hold ':' in place: TF.js reads an input `a:1` as output
 * 1 of node `a`, so `onnx::Conv_7` or `input:0` loads but cannot run. ':' becomes '_', with a suffix
 * where that name is taken. Returns the renaming for the signature.
 */
function safeNames(nodes: TfNode[], weights: { entry: ManifestEntry }[]): (name: string) => string {
  const taken = new Set(nodes.map((n) => n.name));
  const renamed = new Map<string, string>();
  for (const n of nodes) {
    if (!n.name.includes(':')) continue;
    let name = n.name.replace(/:/g, '_');
    for (let k = 1; taken.has(name); k++) name = `${n.name.replace(/:/g, '_')}_${k}`;
    taken.add(name);
    renamed.set(n.name, name);
  }
  const rename = (name: string): string => renamed.get(name) ?? name;
  if (!renamed.size) return rename;
  for (const n of nodes) {
    n.name = rename(n.name);
    if (n.input) n.input = n.input.map(rename);
  }
  for (const x of weights) x.entry.name = rename(x.entry.name);
  return rename;
}

/** Writes a Graph as a TF.js GraphModel; `plan` stores weights as uint8 (dynamic) or float16. */
export function exportTfjs(source: Graph, file: string, plan?: QuantPlan): TfjsFiles {
  if (plan?.mode === 'int8') throw usageError(`${file}: TF.js runs float kernels; use --mode dynamic (uint8 weights, as tensorflowjs_converter --quantize_uint8) or float16`);
  if (plan && (plan.granularity === 'channel' || plan.granularity === 'block')) throw usageError(`${file}: TF.js stores quantized weights per tensor; use --granularity auto or tensor`);
  const graph = plan ? foldBatchNorm(source, plan.mode === 'dynamic' ? foldKeepsUint8Error : undefined) : source;
  requireStaticValues(graph, file, 'the TF.js writer');
  requireOps(graph, file, 'the TF.js writer', EMIT);
  const w = new Writer(graph, file, plan);
  requireRankAtMost(graph, file, 'the TF.js writer', w.types);
  for (const i of graph.inputs) w.nodes.push({ name: i.name, op: 'Placeholder', attr: { dtype: A.type(i.dtype === 'int32' || i.dtype === 'int64' ? 'int32' : 'float32'), shape: A.shape(i.shape.map(orMinus1)) } });
  for (const n of graph.nodes) EMIT[n.op]!(w, n, attrsOf(n));
  // Outputs keep their names; one that is an input or a constant gets an Identity.
  const outputs = graph.outputs.map((o) => {
    if (graph.constants.has(o.name) || graph.inputs.some((i) => i.name === o.name)) return w.node(`${o.name}/identity`, 'Identity', [w.input(o.name)]);
    return o.name;
  });
  const rename = safeNames(w.nodes, w.weights);
  const sig = (name: string, dtype: DType, shape: readonly Dim[]): Attr => ({ name: `${rename(name)}:0`, dtype: dtype === 'int32' || dtype === 'int64' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: tensorShape(shape.map(orMinus1)) });
  // Shards: consecutive weights, split at 4 MiB like the converter.
  const total = w.weights.reduce((s, x) => s + x.bytes.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const x of w.weights) {
    all.set(x.bytes, o);
    o += x.bytes.length;
  }
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = Array.from({ length: count }, (_, i) => ({ name: `group1-shard${i + 1}of${count}.bin`, bytes: all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)) }));
  const model = {
    format: 'graph-model',
    generatedBy: `edgelm ${VERSION}`,
    convertedBy: `edgelm ${VERSION}`,
    signature: {
      inputs: Object.fromEntries(graph.inputs.map((i) => [`${rename(i.name)}:0`, sig(i.name, i.dtype, i.shape)])),
      outputs: Object.fromEntries(graph.outputs.map((g, k) => [`${rename(outputs[k]!)}:0`, sig(outputs[k]!, w.types.get(g.name)?.dtype ?? 'float32', w.types.get(g.name)?.shape ?? [])])),
    },
    modelTopology: { node: w.nodes, library: {}, versions: { producer: 1645 } },
    weightsManifest: [{ paths: shards.map((s) => s.name), weights: w.weights.map((x) => x.entry) }],
    userDefinedMetadata: { edgelm: { source_format: graph.format, ...graph.metadata } },
  };
  return { files: [{ name: 'model.json', bytes: new TextEncoder().encode(JSON.stringify(model)) }, ...shards] };
}
