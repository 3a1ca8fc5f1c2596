// The ONNX writer's state (opset 17, IR version 8): the graph being built, weights in ONNX layouts as
// the quantization plan wants them, Q/DQ pairs, fresh names. The per-op entries (Emit tables) sit with
// each family's ONNX reader in src/import/onnx/ops*.ts; exportOnnx (index.ts) runs them.
import { UnsupportedOpError } from '../../errors.js';
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import type { Graph, Node } from '../../ir/graph.js';
import { inferTypes } from '../../ir/infer.js';
import type { ValueType } from '../../ir/op.js';
import type { Layout } from '../../ir/ops/nn.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { transposeData, type QuantParams, type Tensor } from '../../ir/tensor.js';
import type { FloatSource } from '../../quantize/minmax.js';
import { quantizeRowsTransposed } from '../../quantize/rows.js';
import { DimWriter } from './dims.js';
import { MS_DOMAIN, nbitsWeight } from './nbits.js';
import { attr, OnnxGraphBuilder, type OnnxAttr } from './proto.js';
import { EdgelmError } from '../../errors.js';
import { floatToHalf } from '../../ir/float16.js';
import { activationParams, biasScaleFloor, quantizeBias, quantizeEmbedding, quantizeWeights, toUint8Codes, weightGranularity, type QuantPlan } from '../../quantize/plan.js';

/**
 * Ops whose float activation inputs get QuantizeLinear→DequantizeLinear pairs in int8 mode (QDQ format):
 * onnxruntime fuses DQ → op → Q into integer kernels where it has them.
 */
const QDQ_OPS = new Set<OpType>(['dense', 'matMul', 'conv2d', 'depthwiseConv2d', 'add', 'mul', 'maxPool2d', 'avgPool2d', 'reshape', 'transpose', 'concat', 'relu', 'sigmoid', 'softmax', 'reduceMean', 'squeeze', 'unsqueeze', 'pad', 'clip', 'relu6']);

/** Ops whose int8 kernels read quantized inputs whatever happens to their result. */
const PRODUCTS = new Set<OpType>(['dense', 'matMul', 'conv2d', 'depthwiseConv2d']);

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
  blockMatMul(node: Node, x: string, base: string, rows: Parameters<typeof nbitsWeight>[1], n: number, k: number, output?: string): string {
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
  dynamicMatMul(node: Node, x: string, base: string, kn: Float32Array | FloatSource | { nk: Tensor }, k: number, n: number, bias: string | undefined, output: string): void {
    const plan = this.plan!;
    const granularity = weightGranularity(plan, node.op, 'onnx') as 'tensor' | 'channel';
    // W given as [N, K] (a transposed operand): per column, its rows a few at a time (the same codes).
    const q = !('nk' in kn) ? quantizeWeights(base, kn, [k, n], plan, granularity, 1) : granularity === 'channel' ? quantizeRowsTransposed(base, kn.nk, plan) : quantizeWeights(base, transposeData(kn.nk.data as Float32Array, [n, k], [1, 0]), [k, n], plan, granularity, 1);
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
    // Elementwise and structural ops gain nothing from quantized inputs unless their result is quantized
    // too (onnxruntime fuses DQ → op → Q only); products still run integer kernels on their inputs.
    if (!PRODUCTS.has(node.op) && node.outputs.some((o) => !plan.ranges.has(o))) return node;
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

export const out0 = (n: Node): string => n.outputs[0]!;
export const simple = (type: string, attrs: (a: Record<string, unknown>) => Record<string, OnnxAttr> = () => ({})): Emit => (w, n, a) =>
  void w.b.node(type, n.inputs.filter(Boolean), n.outputs, attrs(a), n.name);

export function spatialAttrs(a: Record<string, unknown>, kernel: number[]): Record<string, OnnxAttr> {
  const r: Record<string, OnnxAttr> = { kernel_shape: attr.ints(kernel), strides: attr.ints(a.strides as number[]) };
  if (a.padding === 'SAME') r.auto_pad = attr.s('SAME_UPPER');
  else if (a.padding === 'EXPLICIT') r.pads = attr.ints(a.pads as number[]);
  return r;
}

export function convLike(w: Writer, n: Node, a: Record<string, unknown>, weight: { shape: number[]; data: Float32Array } | string, extra: Record<string, OnnxAttr>, type = 'Conv'): void {
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

export function weightOf(w: Writer, n: Node, i: number): Tensor {
  const t = w.konst(n.inputs[i]!);
  if (!t || t.dtype !== 'float32') throw new UnsupportedOpError(w.graph.name, 'the ONNX writer', new Map([[`${n.op} with run-time weights`, n.name]]));
  return t;
}

/** A one-element array of `dtype` holding v. */
export function typedScalar(dtype: DType, v: number): TypedArray {
  if (dtype === 'float16') return Uint16Array.of(floatToHalf(v));
  if (dtype === 'int64') return BigInt64Array.of(BigInt(v));
  const Ctor = DTYPES[dtype].array as unknown as { of(v: number): TypedArray };
  return Ctor.of(v);
}
