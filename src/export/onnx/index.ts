// ONNX writer (opset 17, IR version 8): one entry per IR op. NHWC spatial ops are wrapped in
// Transposes (ONNX convolutions are NCHW); weights are converted to ONNX layouts.
import { UnsupportedOpError } from '../../errors.js';
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import { decodeHalfs } from '../../ir/float16.js';
import { VERSION } from '../../version.js';
import { requireOps, type Graph, type Node } from '../../ir/graph.js';
import { inferTypes } from '../../ir/infer.js';
import type { ValueType } from '../../ir/op.js';
import type { Layout } from '../../ir/ops/nn.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { transposeData, type QuantParams, type Tensor } from '../../ir/tensor.js';
import type { Dim } from '../../ir/dim.js';
import { DimWriter } from './dims.js';
import { MS_DOMAIN, nbitsWeight } from './nbits.js';
import { ELEMENTWISE_EMIT } from './emit-elementwise.js';
import { attr, OnnxGraphBuilder, type OnnxAttr } from './proto.js';
import { basename } from 'node:path';
import { EdgelmError } from '../../errors.js';
import { floatToHalf } from '../../ir/float16.js';
import { foldBatchNorm } from '../../ir/passes/fold-batchnorm.js';
import { activationParams, biasScaleFloor, quantizeBias, quantizeEmbedding, quantizeWeights, toUint8Codes, weightGranularity, type QuantPlan } from '../../quantize/plan.js';

/**
 * Ops whose float activation inputs get QuantizeLinear→DequantizeLinear pairs in int8 mode (QDQ format):
 * onnxruntime fuses DQ → op → Q into integer kernels where it has them.
 */
const QDQ_OPS = new Set<OpType>(['dense', 'matMul', 'conv2d', 'depthwiseConv2d', 'add', 'mul', 'maxPool2d', 'avgPool2d', 'reshape', 'transpose', 'concat', 'relu', 'sigmoid', 'softmax', 'reduceMean', 'squeeze', 'unsqueeze', 'pad', 'clip', 'relu6']);

/** Convolutions, whose dynamic-mode weights are written as Cast · scale (see Writer.castScaled). */
const CONVS = new Set<OpType>(['conv2d', 'depthwiseConv2d', 'conv2dTranspose']);

export const ONNX_OPSET = 17;

/**
 * Packs unsigned `bits`-bit codes of `rows` rows of `cols` into `rowBytes` bytes per row, first
 * element in the lowest bits (as MatMulNBits stores codes and zero points).
 */
export class Writer {
  readonly b: OnnxGraphBuilder;
  readonly types: Map<string, ValueType>;
  private n = 0;
  /** The node being written reads quantized activations (int8 mode). */
  q8 = false;
  /** Scale of the current node's first input in int8 mode (for int32 biases). */
  inputScale = 1;
  private readonly qdqCache = new Map<string, string>();
  /** Names of the graph's own values and nodes, which generated names must not repeat. */
  private readonly taken: Set<string>;
  /** Attributes holding run-time dims, computed from the inputs' shapes. */
  readonly dims: DimWriter;

  constructor(
    readonly graph: Graph,
    readonly file: string,
    readonly plan?: QuantPlan,
  ) {
    this.b = new OnnxGraphBuilder(graph.name);
    this.types = inferTypes(graph, file);
    this.dims = new DimWriter(this);
    this.taken = new Set([...graph.inputs.map((v) => v.name), ...graph.constants.keys(), ...graph.nodes.flatMap((n) => [n.name, ...n.outputs])]);
  }

  /**
   * A weight in ONNX layout, as the plan wants it: int8 codes behind DequantizeLinear (per channel
   * along `channelAxis`), float16 behind Cast, or float32. Dynamic-mode MatMul/Gemm weights go through
   * {@link dynamicMatMul} instead; convolutions keep DequantizeLinear (ConvInteger measured slower still).
   */
  weight(node: Node, base: string, shape: number[], data: Float32Array, channelAxis: number, bias?: string): string {
    const plan = this.plan;
    if (!plan || plan.exclude(node)) return this.init(base, 'float32', shape, data);
    if (plan.mode === 'float16') {
      const half = this.init(`${base}.f16`, 'float16', shape, Uint16Array.from(data, floatToHalf));
      return this.op('Cast', [half], { to: attr.i(DTYPES.float32.onnx) });
    }
    if (plan.mode === 'int8' && !this.q8) return this.init(base, 'float32', shape, data);
    // Blocks are for MatMul weights (MatMulNBits); convolutions of the same model get int8 per channel.
    const blocked = weightGranularity(plan, node.op, 'onnx') === 'block';
    const b = this.q8 && bias ? this.konst(bias) : undefined;
    const floor = b?.dtype === 'float32' ? biasScaleFloor(b.data as Float32Array, this.inputScale) : undefined;
    const q = quantizeWeights(base, data, shape, blocked ? { ...plan, bits: 8 } : plan, blocked ? 'channel' : weightGranularity(plan, node.op, 'onnx') as 'tensor' | 'channel', channelAxis, floor);
    if (this.q8) this.weightScales = q.params.scale;
    if (plan.mode === 'dynamic' && CONVS.has(node.op)) return this.castScaled(base, shape, q, channelAxis);
    return this.dequantized(base, shape, q, channelAxis);
  }

  /**
   * Dynamic-mode convolution weights as Cast(int8 codes) · scale: onnxruntime constant-folds Cast and Mul
   * of initializers at load time into a float weight it pre-packs, while it never folds DequantizeLinear
   * (kept for QDQ fusion), which then runs on every call: 3× slower than float on MobileNetV2 (figure 11).
   */
  private castScaled(base: string, shape: number[], q: { codes: Int8Array; params: QuantParams }, axis: number): string {
    const n = q.params.scale.length;
    const codes = this.op('Cast', [this.init(`${base}.q`, 'int8', shape, q.codes)], { to: attr.i(DTYPES.float32.onnx) });
    const scaleShape = n > 1 ? shape.map((d, i) => (i === axis ? d : 1)) : [];
    return this.op('Mul', [codes, this.init(`${base}.scale`, 'float32', scaleShape, q.params.scale)]);
  }

  /** Symmetric int8 codes (zero point 0) behind DequantizeLinear, per channel along `axis` when there are several scales. */
  private dequantized(base: string, shape: number[], q: { codes: Int8Array; params: QuantParams }, axis: number): string {
    const perChannel = q.params.scale.length > 1;
    const scaleShape = perChannel ? [q.params.scale.length] : [];
    const codes = this.init(`${base}.q`, 'int8', shape, q.codes);
    const scale = this.init(`${base}.scale`, 'float32', scaleShape, q.params.scale);
    const zp = this.init(`${base}.zero_point`, 'int8', scaleShape, new Int8Array(q.params.scale.length));
    return this.op('DequantizeLinear', [codes, scale, zp], perChannel ? { axis: attr.i(axis) } : {});
  }
  /** The model uses com.microsoft ops (its opset must be imported). */
  usesMs = false;

  /**
   * Whether `node`'s weight is written block-wise (MatMulNBits); refuses plans that onnxruntime's
   * block kernels cannot take.
   */
  blocks(node: Node): boolean {
    const plan = this.plan;
    if (!plan || plan.exclude(node) || plan.mode === 'float16' || weightGranularity(plan, node.op, 'onnx') !== 'block') return false;
    if (plan.mode !== 'dynamic') throw new EdgelmError('usage', `${this.file}: block-wise weights are weight-only; use them with --mode dynamic (node ${node.name})`);
    if (![2, 4, 8].includes(plan.bits)) throw new EdgelmError('usage', `${this.file}: onnxruntime's MatMulNBits packs 2, 4 or 8 bits per code; got --bits ${plan.bits}`);
    const bs = plan.blockSize;
    if (bs < 16 || (bs & (bs - 1)) !== 0) throw new EdgelmError('usage', `${this.file}: onnxruntime's MatMulNBits needs a block size that is a power of two ≥ 16; got --block-size ${bs}`);
    // NOTE: onnxruntime-node 1.30 refuses to load MatMulNBits with block_size above 256.
    if (bs > 256) throw new EdgelmError('usage', `${this.file}: onnxruntime's MatMulNBits takes blocks of at most 256; got --block-size ${bs}`);
    return true;
  }

  /**
   * x·W with W block-quantized, through com.microsoft MatMulNBits; `rows` is W as [N, K] (one row
   * per output feature, K along the reduction). Returns the output. In onnxruntime-node 1.30 it ran
   * a MatMul-heavy stack ~25% faster than DequantizeLinear-21 (block_size) → MatMul, and keeps opset 17.
   */
  blockMatMul(node: Node, x: string, base: string, rows: Float32Array, n: number, k: number, output?: string): string {
    const wq = nbitsWeight(base, rows, n, k, this.plan!);
    const ins = [
      x,
      this.init(`${base}.q${wq.attrs.bits}`, 'uint8', wq.codes.shape, wq.codes.data),
      this.init(`${base}.scales`, 'float32', wq.scales.shape, wq.scales.data),
      this.init(`${base}.zero_points`, 'uint8', wq.zeroPoints.shape, wq.zeroPoints.data),
    ];
    this.usesMs = true;
    const attrs = Object.fromEntries(Object.entries(wq.attrs).map(([key, v]) => [key, attr.i(v)]));
    const out = output ?? this.fresh('MatMulNBits');
    this.b.node('MatMulNBits', ins, [out], attrs, output ? node.name : this.fresh('/MatMulNBits'), MS_DOMAIN);
    return out;
  }


  /** Whether `node`'s constant weight is written as a dynamic-mode int8 product ({@link dynamicMatMul}). */
  dynamic(node: Node): boolean {
    const plan = this.plan;
    return plan?.mode === 'dynamic' && !plan.exclude(node) && weightGranularity(plan, node.op, 'onnx') !== 'block';
  }

  /**
   * x·W (+ bias) in dynamic mode, W given as [K, N] (ONNX MatMul layout), written as onnxruntime's
   * quantize_dynamic writes it: DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast →
   * Mul(x_scale·W_scale) (→ Add bias), which onnxruntime fuses into one DynamicQuantizeMatMul kernel
   * (MatMulIntegerToFloatFusion, then DynamicQuantizeMatMulFusion: it needs this node order, constant
   * W/scales/bias, a 1-D bias, and a DynamicQuantizeLinear read by this MatMulInteger alone, so each
   * product gets its own). onnxruntime does not constant-fold DequantizeLinear, so DQ → MatMul
   * dequantized every weight on every run. onnxruntime-node 1.30, one thread, batch 1, latency against
   * float: lenet-300-100 DQ 5.8×, this 0.58×; the char transformer DQ 1.42×, this 0.82× (MatMulNBits
   * with 8 bits: 3.3× and 1.43×). Codes are the symmetric int8 codes shifted to uint8 (zero point
   * 128): onnxruntime's u8·s8 kernel saturates int16 pair sums on AVX2 CPUs without VNNI (next-token
   * agreement with the float char transformer 98.2% against 99.7% for u8·u8, within 5–8% of its
   * speed). Scales per output column or one (--granularity).
   */
  dynamicMatMul(node: Node, x: string, base: string, kn: Float32Array, k: number, n: number, bias: string | undefined, output: string): void {
    const plan = this.plan!;
    const granularity = weightGranularity(plan, node.op, 'onnx') as 'tensor' | 'channel';
    const q = quantizeWeights(base, kn, [k, n], plan, granularity, 1);
    const perColumn = q.params.scale.length > 1;
    const codes = this.init(`${base}.q`, 'uint8', [k, n], toUint8Codes(q.codes));
    const scale = this.init(`${base}.scale`, 'float32', perColumn ? [n] : [], q.params.scale);
    const zp = this.init(`${base}.zero_point`, 'uint8', [], Uint8Array.of(128));
    const [xq, xScale, xZp] = this.b.node('DynamicQuantizeLinear', [x], [this.fresh(`${x}.q`), this.fresh(`${x}.scale`), this.fresh(`${x}.zero_point`)], {}, this.fresh('/DynamicQuantizeLinear'));
    const sum = this.op('MatMulInteger', [xq!, codes, xZp!, zp]);
    const ins = [this.op('Cast', [sum], { to: attr.i(DTYPES.float32.onnx) }), this.op('Mul', [xScale!, scale])];
    if (!bias) return void this.b.node('Mul', ins, [output], {}, node.name);
    this.b.node('Add', [this.op('Mul', ins), bias], [output], {}, node.name);
  }

  /**
   * An embedding lookup (Gather on axis 0 of a constant [rows, dim] table) in dynamic mode: int8 codes
   * per row behind DequantizeLinear(axis 0) → Gather (see quantizeEmbedding). On the test transformer,
   * 4-bit blocks (GatherBlockQuantized, which onnxruntime-node 1.30 runs) cost ~5 points of next-token
   * agreement over int8 rows, for 1 KiB. Returns false when the table stays float.
   */
  embedding(node: Node, axis: number): boolean {
    const t = this.konst(node.inputs[0]!);
    const q = quantizeEmbedding(this.plan, node, axis, t);
    if (!q) return false;
    const table = this.dequantized(node.inputs[0]!, t!.shape, q, 0);
    this.b.node('Gather', [table, node.inputs[1]!], node.outputs, { axis: attr.i(0) }, node.name);
    return true;
  }

  /** Scales of the last int8 weight written (for the bias that goes with it). */
  weightScales: Float32Array = new Float32Array(1);

  /** A bias: int32 at input_scale·weight_scale behind DequantizeLinear in an int8 node, else as is. */
  bias(node: Node, index: number): string | undefined {
    const name = node.inputs[index];
    if (!name) return undefined;
    const c = this.konst(name);
    if (!this.q8 || !c || c.dtype !== 'float32') return name;
    const b = quantizeBias(name, c.data as Float32Array, this.inputScale, this.weightScales);
    const codes = this.init(`${name}.q`, 'int32', [b.codes.length], b.codes);
    const scale = this.init(`${name}.scale`, 'float32', [b.scales.length], b.scales);
    const zp = this.init(`${name}.zero_point`, 'int32', [b.codes.length], new Int32Array(b.codes.length));
    return this.op('DequantizeLinear', [codes, scale, zp], { axis: attr.i(0) });
  }

  /** The value through QuantizeLinear → DequantizeLinear with its calibrated parameters, as uint8 (once per value). */
  qdq(value: string): string {
    const cached = this.qdqCache.get(value);
    if (cached) return cached;
    const p = activationParams(this.plan!.ranges.get(this.clippedRange(value))!);
    const scale = this.scalar(`${value}.scale`, p.scale);
    // uint8 codes (same scale, zero point + 128): onnxruntime on x86 fuses DQ → Conv/MatMul → Q into
    // QLinearConv/QLinearMatMul only for uint8 activations with int8 weights (U8S8); int8 ones stay float.
    const zp = this.init(`${value}.zero_point`, 'uint8', [], Uint8Array.of(p.zeroPoint + 128));
    const out = this.op('DequantizeLinear', [this.op('QuantizeLinear', [value, scale, zp]), scale, zp]);
    this.types.set(out, this.types.get(value)!);
    this.qdqCache.set(value, out);
    return out;
  }

  /**
   * The value whose calibrated range quantizes `value`: the output of the clip/relu6 that alone reads it,
   * when that range lies inside the clip's bounds (then quantizing with it clips exactly as the clip does).
   * Conv → Q → DQ → Clip → Q then becomes one QLinearConv in onnxruntime (its ClipQuantFusion removes the
   * Clip, and no requantize is left between different parameters).
   */
  private clippedRange(value: string): string {
    if (!this.readers) {
      this.readers = new Map();
      for (const n of this.graph.nodes) for (const v of n.inputs) if (v) this.readers.set(v, [...(this.readers.get(v) ?? []), n]);
    }
    const readers = this.readers.get(value) ?? [];
    const c = readers.length === 1 ? readers[0] : undefined;
    // NOTE: relu left out: on fixtures/models/cnn-nchw.onnx it moved edgelm's executor 1.2e-3 away from
    // onnxruntime (test/import/quantized-onnx.test.ts), not yet understood.
    if (!c || this.graph.outputs.some((o) => o.name === value) || !['clip', 'relu6'].includes(c.op)) return value;
    const a = attrsOf(c);
    const [lo, hi] = c.op === 'clip' ? [a.min as number, a.max as number] : [0, 6];
    const r = this.plan!.ranges.get(c.outputs[0]!);
    if (!r) return value;
    const p = activationParams(r);
    const [qlo, qhi] = [(-128 - p.zeroPoint) * p.scale, (127 - p.zeroPoint) * p.scale];
    return qlo >= lo && qhi <= hi ? c.outputs[0]! : value;
  }
  private readers?: Map<string, Node[]>;

  /** Starts writing `node`: in int8 mode, routes its quantizable inputs through Q/DQ. */
  begin(node: Node): Node {
    this.q8 = false;
    const plan = this.plan;
    if (plan?.mode !== 'int8' || !QDQ_OPS.has(node.op) || plan.exclude(node)) return node;
    const act = node.inputs.filter((v) => v && !this.konst(v) && this.types.get(v)?.dtype === 'float32');
    if (!act.length || act.some((v) => !plan.ranges.has(v))) return node;
    this.q8 = true;
    this.inputScale = activationParams(plan.ranges.get(act[0]!)!).scale;
    return { ...node, inputs: node.inputs.map((v) => (act.includes(v) ? this.qdq(v) : v)) };
  }
  /** A new value or node name; names the graph already has (a file edgelm wrote before) are skipped. */
  fresh(base: string): string {
    let name: string;
    do name = `${base}__${this.n++}`;
    while (this.taken.has(name));
    return name;
  }
  konst(name: string): Tensor | undefined {
    return this.graph.constants.get(name);
  }
  init(base: string, dtype: DType, shape: number[], data: TypedArray): string {
    return this.b.initializer(this.fresh(base), dtype, shape, data);
  }
  ints(base: string, v: readonly number[]): string {
    return this.init(base, 'int64', [v.length], BigInt64Array.from(v, (x) => BigInt(x)));
  }
  /** A value input (a run-time shape, pads, bounds) in the dtype ONNX takes it in (int64 for shapes). */
  valueAs(v: string, dtype: DType = 'int64'): string {
    return this.types.get(v)!.dtype === dtype ? v : this.op('Cast', [v], { to: attr.i(DTYPES[dtype].onnx) });
  }
  scalar(base: string, v: number): string {
    return this.init(base, 'float32', [], Float32Array.of(v));
  }
  /** A scalar in the dtype of `like` (ONNX binds Clip's bounds and Pad's value to the input's type). */
  scalarLike(base: string, v: number, like: string): string {
    const dtype = this.types.get(like)!.dtype;
    return this.init(base, dtype, [], typedScalar(dtype, v));
  }
  op(type: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, output?: string): string {
    return this.b.node(type, inputs, [output ?? this.fresh(type)], attrs, this.fresh(`/${type}`))[0]!;
  }
  rank(v: string): number {
    return this.types.get(v)!.shape.length;
  }
  /** NHWC → NCHW for a spatial op's input (identity for NCHW). */
  toNchw(v: string, layout: Layout): string {
    return layout === 'NHWC' ? this.op('Transpose', [v], { perm: attr.ints([0, 3, 1, 2]) }) : v;
  }
  fromNchw(v: string, layout: Layout, out: string): string {
    return layout === 'NHWC' ? this.op('Transpose', [v], { perm: attr.ints([0, 2, 3, 1]) }, out) : this.op('Identity', [v], {}, out);
  }
}

export type Emit = (w: Writer, node: Node, a: Record<string, unknown>) => void;

const out0 = (n: Node): string => n.outputs[0]!;
/** ScatterElements / ScatterND reduction attribute: left out for 'none' (the default). */
const reduction = (a: Record<string, unknown>): Record<string, OnnxAttr> => (a.reduction === 'none' ? {} : { reduction: attr.s(a.reduction as string) });
const simple = (type: string, attrs: (a: Record<string, unknown>) => Record<string, OnnxAttr> = () => ({})): Emit => (w, n, a) =>
  void w.b.node(type, n.inputs.filter(Boolean), n.outputs, attrs(a), n.name);

function spatialAttrs(a: Record<string, unknown>, kernel: number[]): Record<string, OnnxAttr> {
  const r: Record<string, OnnxAttr> = { kernel_shape: attr.ints(kernel), strides: attr.ints(a.strides as number[]) };
  if (a.padding === 'SAME') r.auto_pad = attr.s('SAME_UPPER');
  else if (a.padding === 'EXPLICIT') r.pads = attr.ints(a.pads as number[]);
  return r;
}

function convLike(w: Writer, n: Node, a: Record<string, unknown>, weight: { shape: number[]; data: Float32Array } | string, extra: Record<string, OnnxAttr>, type = 'Conv'): void {
  const layout = a.layout as Layout;
  const x = w.toNchw(n.inputs[0]!, layout);
  // ConvTranspose weights are [in, out, kh, kw]: their output channels are axis 1. A string: a run-time weight, already in ONNX's layout.
  const wt = typeof weight === 'string' ? weight : w.weight(n, `${n.name}.weight`, weight.shape, weight.data, type === 'Conv' ? 0 : 1, type === 'Conv' ? n.inputs[2] : undefined);
  const ins = [x, wt];
  const bias = type === 'Conv' ? w.bias(n, 2) : n.inputs[2];
  if (bias) ins.push(bias);
  const y = w.op(type, ins, extra);
  w.fromNchw(y, layout, out0(n));
}

function weightOf(w: Writer, n: Node, i: number): Tensor {
  const t = w.konst(n.inputs[i]!);
  if (!t || t.dtype !== 'float32') throw new UnsupportedOpError(w.graph.name, 'the ONNX writer', new Map([[`${n.op} with run-time weights`, n.name]]));
  return t;
}

const EMIT: Partial<Record<OpType, Emit>> = {
  relu: simple('Relu'),
  sigmoid: simple('Sigmoid'),
  tanh: simple('Tanh'),
  erf: simple('Erf'),
  abs: simple('Abs'),
  neg: simple('Neg'),
  round: simple('Round'),
  exp: simple('Exp'),
  log: simple('Log'),
  sqrt: simple('Sqrt'),
  reciprocal: simple('Reciprocal'),
  softplus: simple('Softplus'),
  identity: simple('Identity'),
  elu: simple('Elu', (a) => ({ alpha: attr.f(a.alpha as number) })),
  leakyRelu: simple('LeakyRelu', (a) => ({ alpha: attr.f(a.alpha as number) })),
  prelu: simple('PRelu'),
  relu6: (w, n) => void w.b.node('Clip', [n.inputs[0]!, w.scalar('zero', 0), w.scalar('six', 6)], n.outputs, {}, n.name),
  clip: (w, n, a) => {
    const lo = a.min === -Infinity ? '' : w.scalarLike('min', a.min as number, n.inputs[0]!);
    const hi = a.max === Infinity ? '' : w.scalarLike('max', a.max as number, n.inputs[0]!);
    w.b.node('Clip', hi ? [n.inputs[0]!, lo, hi] : lo ? [n.inputs[0]!, lo] : [n.inputs[0]!], n.outputs, {}, n.name);
  },
  rsqrt: (w, n) => void w.b.node('Reciprocal', [w.op('Sqrt', [n.inputs[0]!])], n.outputs, {}, n.name),
  square: (w, n) => void w.b.node('Mul', [n.inputs[0]!, n.inputs[0]!], n.outputs, {}, n.name),
  swish: (w, n) => void w.b.node('Mul', [n.inputs[0]!, w.op('Sigmoid', [n.inputs[0]!])], n.outputs, {}, n.name),
  gelu: (w, n, a) => {
    // Opset 17 has no Gelu: write PyTorch's decomposition.
    const x = n.inputs[0]!;
    let inner: string;
    if (a.approximate === 'tanh') {
      const cube = w.op('Mul', [w.op('Mul', [x, x]), x]);
      const poly = w.op('Add', [x, w.op('Mul', [cube, w.scalar('c', 0.044715)])]);
      inner = w.op('Tanh', [w.op('Mul', [poly, w.scalar('k', Math.sqrt(2 / Math.PI))])]);
    } else inner = w.op('Erf', [w.op('Div', [x, w.scalar('sqrt2', Math.SQRT2)])]);
    w.b.node('Mul', [w.op('Mul', [x, w.scalar('half', 0.5)]), w.op('Add', [inner, w.scalar('one', 1)])], n.outputs, {}, n.name);
  },
  add: simple('Add'),
  sub: simple('Sub'),
  mul: simple('Mul'),
  div: simple('Div'),
  pow: simple('Pow'),
  maximum: simple('Max'),
  minimum: simple('Min'),
  equal: simple('Equal'),
  less: simple('Less'),
  greater: simple('Greater'),
  where: simple('Where'),
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
      const y = w.blockMatMul(n, x, n.inputs[1]!, transposeData(k.data as Float32Array, [kIn, nOut], [1, 0]), nOut, kIn, bias0 ? undefined : out0(n));
      if (bias0) w.b.node('Add', [y, bias0], n.outputs, {}, n.name);
      return;
    }
    if (w.dynamic(n)) return w.dynamicMatMul(n, x, n.inputs[1]!, k.data as Float32Array, kIn, nOut, bias0, out0(n));
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
        const rows = a.transposeB ? (k.data as Float32Array) : transposeData(k.data as Float32Array, [r, c], [1, 0]);
        return void w.blockMatMul(n, lhs, n.inputs[1]!, rows, a.transposeB ? r : c, a.transposeB ? c : r, out0(n));
      }
      const data = a.transposeB ? transposeData(k.data as Float32Array, [r, c], [1, 0]) : (k.data as Float32Array);
      if (w.dynamic(n)) return w.dynamicMatMul(n, lhs, n.inputs[1]!, data, a.transposeB ? c : r, a.transposeB ? r : c, undefined, out0(n));
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
  reshape: (w, n, a) => void w.b.node('Reshape', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, {}, n.name),
  transpose: (w, n, a) => void w.b.node('Transpose', [n.inputs[0]!], n.outputs, (a.perm as number[]).length ? { perm: attr.ints(a.perm as number[]) } : {}, n.name),
  concat: simple('Concat', (a) => ({ axis: attr.i(a.axis as number) })),
  split: (w, n, a) => void w.b.node('Split', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('split', a.sizes as number[])], n.outputs, { axis: attr.i(a.axis as number) }, n.name),
  slice: (w, n, a) => {
    const [starts, ends] = n.inputs[1] ? [w.valueAs(n.inputs[1]), w.valueAs(n.inputs[2]!)] : [w.dims.vector(a.starts as Dim[], 'starts'), w.dims.vector(a.ends as Dim[], 'ends')];
    const [axes, steps] = [n.inputs[3] ? w.valueAs(n.inputs[3]) : w.ints('axes', a.axes as number[]), n.inputs[4] ? w.valueAs(n.inputs[4]) : w.ints('steps', a.steps as number[])];
    w.b.node('Slice', [n.inputs[0]!, starts, ends, axes, steps], n.outputs, {}, n.name);
  },
  gather: (w, n, a) => {
    if (!w.embedding(n, a.axis as number)) w.b.node('Gather', n.inputs.filter(Boolean), n.outputs, { axis: attr.i(a.axis as number) }, n.name);
  },
  squeeze: (w, n, a) => void w.b.node('Squeeze', (a.axes as number[]).length ? [n.inputs[0]!, w.ints('axes', a.axes as number[])] : [n.inputs[0]!], n.outputs, {}, n.name),
  topK: (w, n, a) => void w.b.node('TopK', [n.inputs[0]!, w.ints('k', [a.k as number])], n.outputs, { axis: attr.i(a.axis as number), largest: attr.i(a.largest ? 1 : 0), sorted: attr.i(1) }, n.name),
  tile: (w, n, a) => void w.b.node('Tile', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('repeats', a.repeats as number[])], n.outputs, {}, n.name),
  gatherElements: (w, n, a) => void w.b.node('GatherElements', [n.inputs[0]!, n.inputs[1]!], n.outputs, { axis: attr.i(a.axis as number) }, n.name),
  scatterElements: (w, n, a) => void w.b.node('ScatterElements', n.inputs.slice(0, 3), n.outputs, { axis: attr.i(a.axis as number), ...reduction(a) }, n.name),
  scatterND: (w, n, a) => void w.b.node('ScatterND', n.inputs.slice(0, 3), n.outputs, reduction(a), n.name),
  gatherND: (w, n, a) => void w.b.node('GatherND', n.inputs.slice(0, 2), n.outputs, { batch_dims: attr.i(a.batchDims as number) }, n.name),
  reverseSequence: (w, n, a) => void w.b.node('ReverseSequence', n.inputs.slice(0, 2), n.outputs, { batch_axis: attr.i(a.batchAxis as number), time_axis: attr.i(a.timeAxis as number) }, n.name),
  bitShift: (w, n, a) => void w.b.node('BitShift', n.inputs.slice(0, 2), n.outputs, { direction: attr.s((a.direction as string).toUpperCase()) }, n.name),
  unsqueeze: (w, n, a) => void w.b.node('Unsqueeze', [n.inputs[0]!, w.ints('axes', a.axes as number[])], n.outputs, {}, n.name),
  pad: (w, n, a) => {
    const value = a.mode !== 'constant' ? [] : n.inputs[2] ? [w.valueAs(n.inputs[2], w.types.get(n.inputs[0]!)!.dtype)] : [w.scalarLike('value', a.value as number, n.inputs[0]!)];
    w.b.node('Pad', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('pads', a.pads as number[]), ...value], n.outputs, { mode: attr.s(a.mode as string) }, n.name);
  },
  cast: (w, n, a) => void w.b.node('Cast', [n.inputs[0]!], n.outputs, { to: attr.i(DTYPES[a.to as DType].onnx) }, n.name),
  shape: simple('Shape'),
  expand: (w, n, a) => void w.b.node('Expand', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, {}, n.name),
  range: (w, n, a) => {
    const dt = a.dtype as DType;
    // Run-time bounds: the three scalars as given, in the output's type.
    if (n.inputs[0]) return void w.b.node('Range', n.inputs.map((v) => (w.rank(v) ? w.op('Reshape', [w.valueAs(v, dt), w.ints('scalar_shape', [])]) : w.valueAs(v, dt))), n.outputs, {}, n.name);
    const bound = (d: Dim, base: string): string => (dt === 'int64' ? w.dims.scalar(d, base) : w.op('Cast', [w.dims.scalar(d, base)], { to: attr.i(DTYPES[dt].onnx) }));
    const delta = w.init('delta', dt, [], Object.assign(new DTYPES[dt].array(1), { 0: dt === 'int64' ? BigInt(a.delta as number) : (a.delta as number) }));
    w.b.node('Range', [bound(a.start as Dim, 'start'), bound(a.limit as Dim, 'limit'), delta], n.outputs, {}, n.name);
  },
  fill: (w, n, a) => {
    const dt = a.dtype as DType;
    const value = Object.assign(new DTYPES[dt].array(1), { 0: dt === 'int64' ? BigInt(a.value as number) : (a.value as number) });
    w.b.node('ConstantOfShape', [n.inputs[0] ? w.valueAs(n.inputs[0]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, { value: attr.t(dt, [1], value) }, n.name);
  },
  dimValues: (w, n, a) => {
    const v = w.dims.vector(a.values as Dim[], 'dims');
    const shape = a.shape as number[];
    const dt = a.dtype as DType;
    const shaped = shape.length === 1 ? v : w.op('Reshape', [v, w.ints('dims_shape', shape)]);
    w.b.node(dt === 'int64' ? 'Identity' : 'Cast', [shaped], n.outputs, dt === 'int64' ? {} : { to: attr.i(DTYPES[dt].onnx) }, n.name);
  },
  reduceMean: (w, n, a) => reduceAttr(w, n, a, 'ReduceMean'),
  reduceMax: (w, n, a) => reduceAttr(w, n, a, 'ReduceMax'),
  reduceMin: (w, n, a) => reduceAttr(w, n, a, 'ReduceMin'),
  reduceSum: (w, n, a) => {
    const axes = a.axes as number[];
    w.b.node('ReduceSum', axes.length ? [n.inputs[0]!, w.ints('axes', axes)] : [n.inputs[0]!], n.outputs, { keepdims: attr.i(a.keepDims ? 1 : 0) }, n.name);
  },
  reduceProd: (w, n, a) => reduceAttr(w, n, a, 'ReduceProd'),
  argMax: (w, n, a) => argReduce(w, n, a, 'ArgMax'),
  argMin: (w, n, a) => argReduce(w, n, a, 'ArgMin'),
  cumSum: (w, n, a) => {
    const axis = w.init('axis', 'int64', [], BigInt64Array.of(BigInt(a.axis as number)));
    w.b.node('CumSum', [n.inputs[0]!, axis], n.outputs, { exclusive: attr.i(a.exclusive ? 1 : 0), reverse: attr.i(a.reverse ? 1 : 0) }, n.name);
  },
  ...ELEMENTWISE_EMIT,
};

function argReduce(w: Writer, n: Node, a: Record<string, unknown>, type: string): void {
  const attrs = { axis: attr.i(a.axis as number), keepdims: attr.i(a.keepDims ? 1 : 0), select_last_index: attr.i(a.selectLastIndex ? 1 : 0) };
  w.b.node(type, [n.inputs[0]!], n.outputs, attrs, n.name);
}

/** Opset 17 ReduceMean/Max/Min take axes as an attribute (ReduceSum as an input). */
function reduceAttr(w: Writer, n: Node, a: Record<string, unknown>, type: string): void {
  const axes = a.axes as number[];
  w.b.node(type, [n.inputs[0]!], n.outputs, { keepdims: attr.i(a.keepDims ? 1 : 0), ...(axes.length ? { axes: attr.ints(axes) } : {}) }, n.name);
}

/** A one-element array of `dtype` holding v. */
function typedScalar(dtype: DType, v: number): TypedArray {
  if (dtype === 'float16') return Uint16Array.of(floatToHalf(v));
  if (dtype === 'int64') return BigInt64Array.of(BigInt(v));
  const Ctor = DTYPES[dtype].array as unknown as { of(v: number): TypedArray };
  return Ctor.of(v);
}

/**
 * The reader widens float16/float64 constants to float32; one that meets float16 or float64 activations
 * in a node (Max, Add, …) is written back in their type, or onnxruntime refuses the mixed types.
 */
function writtenFloatTypes(graph: Graph, types: ReadonlyMap<string, ValueType>): Map<string, DType> {
  const out = new Map<string, DType>();
  for (const n of graph.nodes) {
    const wide = n.inputs.map((v) => (v && !graph.constants.has(v) ? types.get(v)?.dtype : undefined)).find((d) => d === 'float16' || d === 'float64');
    if (!wide) continue;
    for (const v of n.inputs) if (v && graph.constants.get(v)?.dtype === 'float32') out.set(v, wide);
  }
  return out;
}

/** A constant's values in float dtype `dtype` (integers as they are). */
function convertFloats(t: Tensor, dtype: DType): TypedArray {
  const values = t.dtype === 'float16' ? decodeHalfs(t.data as Uint16Array) : t.data;
  if (dtype === 'float16') return Uint16Array.from(values as Float32Array, floatToHalf);
  if (dtype === 'float64') return Float64Array.from(values as Float32Array);
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as Float64Array);
  return values;
}

/** Protobuf cannot hold a message past 2 GiB: larger models keep their weights in external data. */
const EXTERNAL_AUTO_BYTES = 1.8 * 2 ** 30;

/**
 * Writes a Graph as ONNX; inputs and outputs keep their names, shapes and dtypes. Weights go to an
 * external data file (`<model>.data` beside it) when asked or when the model would pass 2 GiB.
 */
export function exportOnnx(source: Graph, file: string, plan?: QuantPlan, opts: { externalData?: boolean } = {}): { model: Uint8Array; data?: { location: string; bytes: Uint8Array } } {
  const graph = plan ? foldBatchNorm(source) : source;
  requireOps(graph, file, 'the ONNX writer', EMIT);
  const w = new Writer(graph, file, plan);
  for (const i of graph.inputs) w.b.input(i.name, i.dtype, i.shape);
  for (const n of graph.nodes) EMIT[n.op]!(w, w.begin(n), attrsOf(n));
  // A graph output that is a constant (a folded Shape, a Constant) is an initializer behind an Identity:
  // onnxruntime wants every graph output produced by a node.
  const constantOutputs = new Map(graph.outputs.filter((o) => graph.constants.has(o.name)).map((o) => [o.name, w.fresh(`${o.name}.value`)]));
  for (const [name, value] of constantOutputs) w.b.node('Identity', [value], [name], {}, w.fresh('/Identity'));
  // Only constants a node reads: weights converted to ONNX layouts were written anew.
  const used = w.b.referenced();
  const written = writtenFloatTypes(graph, w.types);
  for (const [name, t] of graph.constants) {
    if (!used.has(name) && !constantOutputs.has(name)) continue;
    // A constant graph output keeps its dtype, which is the output's declared type.
    const narrow = !constantOutputs.has(name) && (t.dtype === 'float16' || t.dtype === 'float64');
    const dtype = written.get(name) ?? (narrow ? 'float32' : t.dtype);
    w.b.initializer(constantOutputs.get(name) ?? name, dtype, t.shape, convertFloats(t, dtype));
  }
  for (const o of graph.outputs) {
    const t = w.types.get(o.name)!;
    w.b.output(o.name, written.get(o.name) ?? t.dtype, t.shape);
  }
  const metadata: Record<string, string> = { ...graph.metadata, 'edgelm.source_format': graph.format };
  let data: { location: string; bytes: Uint8Array } | undefined;
  if (opts.externalData || w.b.inlineBytes() > EXTERNAL_AUTO_BYTES) {
    const location = `${basename(file)}.data`;
    data = { location, bytes: w.b.moveToExternal(location) };
  }
  const extraOpsets: [string, number][] = w.usesMs ? [[MS_DOMAIN, 1]] : [];
  return { model: w.b.encode({ opset: ONNX_OPSET, irVersion: 8, producer: 'edgelm', producerVersion: VERSION, metadata, extraOpsets }), ...(data ? { data } : {}) };
}
