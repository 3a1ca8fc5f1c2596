// Lowers a Graph to TFLite operators. TFLite wants NHWC activations and OHWI weights; the IR carries
// each value's layout, so a value may live in the flatbuffer *physically permuted* (an NCHW value kept
// as NHWC) and is only transposed back when an op needs its logical order. Elementwise ops pass the
// permutation through, so an NCHW CNN gets one TRANSPOSE at each edge instead of two per layer.
import { EdgelmError } from '../../errors.js';
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import { consumers, requireOps, type Graph, type Node } from '../../ir/graph.js';
import { requireRankAtMost } from '../../ir/verify.js';
import { inferTypes } from '../../ir/infer.js';
import type { ValueType } from '../../ir/op.js';
import type { Layout } from '../../ir/ops/nn.js';
import { sliceBounds } from '../../ir/ops/structure.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { samePads } from '../../ir/shape.js';
import { foldBatchNorm } from '../../ir/passes/fold-batchnorm.js';
import { chooseDims, fixDims, type DimChoice } from '../../ir/passes/fix-dims.js';
import { requireStaticValues } from '../../ir/value-dims.js';
import { transposeData, type Tensor } from '../../ir/tensor.js';
import type { OptionField, TflModel, TflOperator, TflQuant, TflTensor } from './flatbuffer.js';
import { floatToHalf } from '../../ir/float16.js';
import { activationParams, biasScaleFloor, quantizeBias, quantizeEmbedding, quantizeWeights, weightGranularity, type QuantPlan } from '../../quantize/plan.js';
import { quantizeTensor, quantizeValue } from '../../quantize/minmax.js';
import { ACTIVATION, OP, OPTIONS, PADDING, type BuiltinOp } from './schema.js';
import { ELEMENTWISE_LOWERINGS } from './lower-elementwise.js';
import { REDUCE_LOWERINGS } from './lower-reduce.js';
import { INDEXING_LOWERINGS } from './lower-indexing.js';
import { SCATTER_LOWERINGS } from './lower-scatter.js';
import { SORT_LOWERINGS } from './lower-sort.js';

export interface TfliteLowerOptions {
  /** Size given to run-time batch dims; TFLite shapes are static. Default 1. */
  batchSize?: number;
  /** Sizes of every run-time dim (chooseDims); default: chosen from batchSize and the model. */
  dims?: DimChoice[];
  description?: string;
  /** Quantize while lowering: int8 weights (dynamic), full integer (int8) or float16 weights. */
  quant?: QuantPlan;
}

const T_FLOAT32 = DTYPES.float32.tflite;
const T_INT8 = DTYPES.int8.tflite;
const T_FLOAT16 = DTYPES.float16.tflite;

/** Ops that run on int8 tensors in full-integer mode; the rest run in float between DEQUANTIZE and QUANTIZE. */
const INT8_OPS = new Set<OpType>([
  'dense', 'matMul', 'conv2d', 'depthwiseConv2d', 'add', 'sub', 'mul', 'maximum', 'minimum', 'relu', 'relu6',
  'sigmoid', 'tanh', 'softmax', 'maxPool2d', 'avgPool2d', 'reshape', 'squeeze', 'unsqueeze', 'transpose',
  'pad', 'slice', 'identity', 'reduceMean', 'hardSwish',
]);
/** int8 ops whose output must carry its input's scale and zero point. */
const SAME_SCALE = new Set<OpType>(['maxPool2d', 'avgPool2d', 'reshape', 'squeeze', 'unsqueeze', 'transpose', 'pad', 'slice', 'identity']);
/** Fixed int8 output parameters the kernels require. */
const FIXED_OUTPUT: Partial<Record<OpType, TflQuant>> = {
  softmax: { scale: [1 / 256], zeroPoint: [-128], axis: 0 },
  sigmoid: { scale: [1 / 256], zeroPoint: [-128], axis: 0 },
  tanh: { scale: [1 / 128], zeroPoint: [0], axis: 0 },
};
/**
 * Lowest op versions for int8 inputs (tensorflow/lite/tools/versioning/op_version.cc; the runtime only
 * requires a registered version). CONCATENATION is not here: its int8 kernel needs every input at the
 * output's exact scale, so concatenations run in float.
 */
const INT8_VERSION: Partial<Record<BuiltinOp, number>> = {
  FULLY_CONNECTED: 4, CONV_2D: 3, DEPTHWISE_CONV_2D: 3, ADD: 2, SUB: 2, MUL: 2, MAXIMUM: 2, MINIMUM: 2, RELU: 2,
  RELU6: 2, LOGISTIC: 2, TANH: 2, SOFTMAX: 2, MAX_POOL_2D: 2, AVERAGE_POOL_2D: 2, CONCATENATION: 2, PAD: 2,
  PADV2: 2, TRANSPOSE: 2, STRIDED_SLICE: 2, MEAN: 2,
};
/** Versions of the hybrid kernels: float activations, int8 weights (per channel where noted). */
const HYBRID_VERSION: Partial<Record<BuiltinOp, { tensor: number; channel: number }>> = {
  FULLY_CONNECTED: { tensor: 3, channel: 12 },
  CONV_2D: { tensor: 2, channel: 5 },
  DEPTHWISE_CONV_2D: { tensor: 4, channel: 6 },
  BATCH_MATMUL: { tensor: 1, channel: 1 },
};

/**
 * Ops whose int8 weights are written behind a DEQUANTIZE in dynamic mode rather than as hybrid kernels:
 * measured faster in LiteRT (figure 11). FULLY_CONNECTED stays hybrid, which LiteRT runs faster than float.
 */
const DEQUANTIZED_IN_DYNAMIC = new Set(['conv2d', 'depthwiseConv2d']);

function toTflQuant(q: { scale: Float32Array | number[]; zeroPoint: Int32Array | number[]; axis?: number }): TflQuant {
  return { scale: [...q.scale], zeroPoint: [...q.zeroPoint], axis: q.axis ?? 0 };
}

type Perm = number[];
const identity = (rank: number): Perm => Array.from({ length: rank }, (_, i) => i);
const isIdentity = (p: Perm): boolean => p.every((v, i) => v === i);
const NHWC_OF_NCHW: Perm = [0, 2, 3, 1];

/** TFLite tensor type for an IR dtype. int64 becomes int32: LiteRT's JS API has no int64 and TFLite ops index with int32. */
export function tflType(d: DType): number {
  if (d === 'int64') return DTYPES.int32.tflite;
  return DTYPES[d].tflite;
}

function bytesOf(data: TypedArray, dtype: DType): Uint8Array {
  if (dtype === 'int64' || data instanceof BigInt64Array) {
    const out = Int32Array.from(data as BigInt64Array, (v) => Number(BigInt.asIntN(32, v)));
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

interface Placed {
  tensor: number;
  /** Physical dim i holds logical dim perm[i]. */
  perm: Perm;
}

export type Lowering = (l: Lowerer, node: Node, a: Record<string, unknown>) => void;

/** Activations that conv, fully connected and arithmetic ops can fuse. */
function fusedActivation(node: Node, a: Record<string, unknown>): number | undefined {
  if (node.op === 'relu') return ACTIVATION.RELU;
  if (node.op === 'relu6') return ACTIVATION.RELU6;
  if (node.op === 'clip') {
    if (a.min === 0 && a.max === 6) return ACTIVATION.RELU6;
    if (a.min === -1 && a.max === 1) return ACTIVATION.RELU_N1_TO_1;
    if (a.min === 0 && a.max === Infinity) return ACTIVATION.RELU;
  }
  return undefined;
}

export class Lowerer {
  readonly tensors: TflTensor[] = [];
  readonly buffers: Uint8Array[] = [new Uint8Array(0)];
  readonly operators: TflOperator[] = [];
  readonly types: Map<string, ValueType>;
  private readonly placed = new Map<string, Placed>();
  /** Cache of a value in another physical order: `${value}|${perm}` → tensor. */
  private readonly permuted = new Map<string, number>();
  private readonly users: Map<string, Node[]>;
  private readonly outputNames: Set<string>;
  /** Nodes already emitted as part of another (a fused activation). */
  readonly absorbed = new Set<Node>();
  /** The node being lowered runs on int8 tensors (full-integer mode). */
  q8 = false;
  /** int8 mode: nodes on float activations that run in float between DEQUANTIZE and QUANTIZE, with why. */
  readonly floatNodes: string[] = [];
  /** Fixed output parameters for the node being lowered (int8 kernels with rules). */
  private outQuant: TflQuant | undefined;
  /** Value → its tensor converted to the other domain (int8 ↔ float). */
  private readonly converted = new Map<string, Placed>();
  private readonly dequantized = new Map<number, number>();

  constructor(
    readonly graph: Graph,
    readonly file: string,
    readonly plan?: QuantPlan,
  ) {
    this.types = inferTypes(graph, file);
    this.users = consumers(graph);
    this.outputNames = new Set(graph.outputs.map((o) => o.name));
  }

  fail(node: Node, what: string): EdgelmError {
    return new EdgelmError('unsupported', `${this.file}: node ${node.name} (${node.op}): ${what}`);
  }

  shapeOf(value: string): number[] {
    const t = this.types.get(value);
    if (!t) throw new EdgelmError('input', `${this.file}: no type for value '${value}'`);
    if (t.shape.some((d) => typeof d !== 'number')) throw new EdgelmError('unsupported', `${this.file}: value '${value}' has a run-time shape [${t.shape.join(', ')}] that fixing the input dims does not determine; TFLite needs static shapes`);
    return t.shape as number[];
  }
  dtypeOf(value: string): DType {
    return this.types.get(value)!.dtype;
  }
  constant(value: string): Tensor | undefined {
    return this.graph.constants.get(value);
  }

  addTensor(name: string, shape: number[], type: number, data?: Uint8Array, quant?: TflQuant): number {
    let buffer = 0;
    if (data) {
      buffer = this.buffers.length;
      this.buffers.push(data);
    }
    this.tensors.push({ name, shape, type, buffer, ...(quant ? { quant } : {}) });
    return this.tensors.length - 1;
  }

  constTensor(name: string, dtype: DType, shape: number[], data: TypedArray): number {
    return this.addTensor(name, shape, tflType(dtype), bytesOf(data, dtype));
  }
  int32Const(name: string, values: readonly number[], shape = [values.length]): number {
    return this.addTensor(name, shape, DTYPES.int32.tflite, new Uint8Array(Int32Array.from(values).buffer));
  }
  floatConst(name: string, values: Float32Array, shape: number[]): number {
    return this.addTensor(name, shape, DTYPES.float32.tflite, new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
  }

  /**
   * A new activation tensor with the given physical shape. In an int8 node a float value becomes int8
   * with the parameters of `like` (a tensor it only rearranges), the op's fixed ones, or its calibrated range.
   */
  activation(name: string, shape: number[], dtype: DType, like?: number): number {
    if (like !== undefined) {
      const src = this.tensors[like]!;
      return this.addTensor(name, shape, src.type, undefined, src.quant);
    }
    if (this.q8 && dtype === 'float32') return this.addTensor(name, shape, T_INT8, undefined, this.outQuant ?? this.rangeQuant(name));
    return this.addTensor(name, shape, tflType(dtype));
  }

  /** int8 parameters of an activation value from its calibrated range. */
  rangeQuant(value: string): TflQuant {
    const r = this.plan?.ranges.get(value);
    if (!r) throw new EdgelmError('input', `${this.file}: no calibrated range for '${value}'`);
    const p = activationParams(r);
    return { scale: [p.scale], zeroPoint: [p.zeroPoint], axis: 0 };
  }

  emit(op: BuiltinOp, inputs: number[], outputs: number[], options?: { type: number; fields: OptionField[] }, version = 1): void {
    this.operators.push({ op: OP[op], version: Math.max(version, this.kernelVersion(op, inputs)), inputs, outputs, ...(options ? { options } : {}) });
  }

  /** The version the op needs for its tensor types: int8 kernels, hybrid kernels, float16 dequantize. */
  private kernelVersion(op: BuiltinOp, inputs: number[]): number {
    const x = this.tensors[inputs[0]!];
    if (op === 'TRANSPOSE_CONV') return 1;
    // op_version.cc: int8 per channel (one scale per slice of quantized_dimension) is version 5.
    if (op === 'DEQUANTIZE') return x?.type === T_FLOAT16 ? 3 : x?.type === T_INT8 && (x.quant?.scale.length ?? 1) > 1 ? 5 : 2;
    if (op === 'QUANTIZE') return 1;
    if (x?.type === T_INT8) return INT8_VERSION[op] ?? 1;
    const w = this.tensors[inputs[1] ?? -1];
    const hybrid = HYBRID_VERSION[op];
    if (hybrid && x?.type === T_FLOAT32 && w?.type === T_INT8) return (w.quant?.scale.length ?? 1) > 1 ? hybrid.channel : hybrid.tensor;
    return 1;
  }

  /** Starts lowering `node`: decides whether it runs in int8 and what its output parameters must be. */
  begin(node: Node): void {
    this.q8 = false;
    this.outQuant = undefined;
    const plan = this.plan;
    if (plan?.mode !== 'int8') return;
    const floatIn = node.inputs.some((v) => v && !this.constant(v) && this.types.get(v)?.dtype === 'float32');
    const inFloat = (why: string): void => void (floatIn && this.floatNodes.push(`${node.name} (${node.op}: ${why})`));
    if (!INT8_OPS.has(node.op)) return inFloat('no int8 lowering');
    if (plan.exclude(node)) return;
    // Every float activation it reads and writes needs a calibrated range.
    const fused = this.peekFused(node);
    const values = [...node.inputs.filter((v) => v && !this.constant(v) && this.types.get(v)?.dtype === 'float32'), fused];
    if (values.some((v) => !plan.ranges.has(v))) return inFloat('no calibrated range');
    if (node.op === 'matMul' && !this.constant(node.inputs[1]!)) return inFloat('two run-time operands');
    this.q8 = true;
    this.outQuant = FIXED_OUTPUT[node.op];
    if (SAME_SCALE.has(node.op)) this.outQuant = this.tensors[this.placement(node.inputs[0]!).tensor]!.quant;
    // int8 MAXIMUM/MINIMUM compare raw codes: inputs are brought to the output's parameters (see binary).
    if (node.op === 'maximum' || node.op === 'minimum') this.outQuant = this.rangeQuant(node.outputs[0]!);
  }

  /**
   * An int8 tensor carrying parameters `q`: itself when it already does, a constant re-encoded, or an
   * activation requantized by QUANTIZE (int8 to int8). Clamping to q's range commutes with max and min.
   */
  private withQuant(tensor: number, q: TflQuant): number {
    const src = this.tensors[tensor]!;
    const from = src.quant!;
    if (from.scale[0] === q.scale[0] && from.zeroPoint[0] === q.zeroPoint[0]) return tensor;
    const name = `${src.name}/requantized`;
    if (src.buffer) {
      const raw = this.buffers[src.buffer]!;
      const codes = new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      const out = Int8Array.from(codes, (c) => quantizeValue((c - from.zeroPoint[0]!) * from.scale[0]!, 1 / q.scale[0]!, q.zeroPoint[0]!, -128, 127));
      return this.addTensor(name, src.shape, T_INT8, new Uint8Array(out.buffer), q);
    }
    const t = this.addTensor(name, src.shape, T_INT8, undefined, q);
    this.emit('QUANTIZE', [tensor], [t]);
    return t;
  }

  /** The value a node's result will carry if its activation is fused (without absorbing it). */
  private peekFused(node: Node): string {
    const out = node.outputs[0]!;
    const users = this.users.get(out) ?? [];
    if (users.length === 1 && !this.outputNames.has(out) && fusedActivation(users[0]!, attrsOf(users[0]!)) !== undefined) return users[0]!.outputs[0]!;
    return out;
  }

  /**
   * A constant operand: float32, or in an int8 node int8 per tensor with parameters from its own range.
   */
  operandConst(name: string, dtype: DType, shape: number[], data: TypedArray): number {
    if (!this.q8 || dtype !== 'float32') return this.constTensor(name, dtype, shape, data);
    const q = quantizeTensor(name, data as Float32Array, shape, { bits: 8, signed: true, symmetric: false, narrow: false, granularity: 'tensor' });
    return this.addTensor(name, shape, T_INT8, new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength), toTflQuant(q.params));
  }

  /**
   * A weight in the written layout, as the plan wants it: int8 per channel along `channelAxis`
   * (int8 nodes and dynamic mode), float16 behind a DEQUANTIZE, or float32.
   */
  weights(node: Node, name: string, shape: number[], data: Float32Array, channelAxis: number, bias?: { index: number; x: number }): number {
    const plan = this.plan;
    const quantize = plan && !plan.exclude(node) && (this.q8 || plan.mode === 'dynamic');
    if (quantize) {
      const granularity = weightGranularity(plan, node.op, 'tflite');
      if (granularity === 'block') throw new EdgelmError('usage', `${this.file}: TFLite has no block-wise weight quantization; use --granularity channel or tensor (node ${node.name})`);
      const b = this.q8 && bias ? this.constant(node.inputs[bias.index] ?? '') : undefined;
      const xScale = bias && this.tensors[bias.x]!.quant?.scale[0];
      const floor = b && xScale ? biasScaleFloor(b.data as Float32Array, xScale) : undefined;
      const q = quantizeWeights(name, data, shape, plan, granularity, channelAxis, floor);
      const codes = new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength);
      if (this.q8 || !DEQUANTIZED_IN_DYNAMIC.has(node.op)) return this.addTensor(name, shape, T_INT8, codes, toTflQuant(q.params));
      // LiteRT's XNNPACK folds DEQUANTIZE of a constant int8 tensor at load time and runs a float
      // convolution; its hybrid CONV_2D/DEPTHWISE_CONV_2D kernels are 20× slower (docs/benchmarks.md, figure 11).
      const t = this.addTensor(name, shape, T_FLOAT32);
      this.emit('DEQUANTIZE', [this.addTensor(`${name}/int8`, shape, T_INT8, codes, toTflQuant(q.params))], [t]);
      return t;
    }
    if (plan?.mode === 'float16' && !plan.exclude(node)) {
      const half = this.addTensor(`${name}/float16`, shape, T_FLOAT16, new Uint8Array(Uint16Array.from(data, floatToHalf).buffer));
      const t = this.addTensor(name, shape, T_FLOAT32);
      this.emit('DEQUANTIZE', [half], [t]);
      return t;
    }
    return this.floatConst(name, data, shape);
  }

  /**
   * An embedding table (constant [rows, dim] gathered on axis 0) in dynamic mode: int8 codes per row
   * (see quantizeEmbedding) behind a DEQUANTIZE (LiteRT has no hybrid GATHER), a quarter of the float
   * bytes. Undefined when it stays float.
   */
  embeddingTable(node: Node, axis: number): number | undefined {
    const name = node.inputs[0]!;
    const t = this.constant(name);
    const q = quantizeEmbedding(this.plan, node, axis, t);
    if (!q || !t) return undefined;
    if (weightGranularity(this.plan!, 'matMul', 'tflite') === 'block') throw new EdgelmError('usage', `${this.file}: TFLite has no block-wise weight quantization; use --granularity channel or tensor (node ${node.name})`);
    const codes = this.addTensor(`${name}/int8`, t.shape, T_INT8, new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength), toTflQuant(q.params));
    const table = this.addTensor(name, t.shape, T_FLOAT32);
    this.emit('DEQUANTIZE', [codes], [table]);
    return table;
  }

  /** The bias of a conv/dense node: int32 at input_scale·weight_scale in an int8 node, else float32. */
  biasFor(node: Node, index: number, channels: number, x: number, w: number): number {
    const name = node.inputs[index];
    const c = name ? this.constant(name) : undefined;
    if (name && !c) return this.get(name);
    const data = c ? (c.data as Float32Array) : new Float32Array(channels);
    const label = name ?? `${node.name}/bias`;
    if (!this.q8) return this.floatConst(label, data, [channels]);
    const xq = this.tensors[x]!.quant!;
    const wq = this.tensors[w]!.quant!;
    const b = quantizeBias(label, data, xq.scale[0]!, Float32Array.from(wq.scale));
    // One scale per weight scale: per-tensor weights get a per-tensor bias (Arm NN checks that they match).
    const scales = wq.scale.length === 1 ? [b.scales[0]!] : [...b.scales];
    return this.addTensor(label, [channels], DTYPES.int32.tflite, new Uint8Array(b.codes.buffer), { scale: scales, zeroPoint: new Array<number>(scales.length).fill(0), axis: 0 });
  }

  /** Registers the tensor holding IR value `value`, physically permuted by `perm`. */
  place(value: string, tensor: number, perm?: Perm): void {
    this.placed.set(value, { tensor, perm: perm ?? identity(this.shapeOf(value).length) });
  }

  /** Where the value lives, converted to the current node's domain (int8 or float) in full-integer mode. */
  placement(value: string): Placed {
    const raw = this.rawPlacement(value);
    if (this.plan?.mode !== 'int8') return raw;
    const type = this.tensors[raw.tensor]!.type;
    const toInt8 = this.q8 && type === T_FLOAT32;
    const toFloat = !this.q8 && type === T_INT8 && !this.constant(value);
    if (!toInt8 && !toFloat) return raw;
    const key = `${value}|${toInt8 ? 'int8' : 'float'}`;
    const cached = this.converted.get(key);
    if (cached) return cached;
    let t: number;
    const shape = this.tensors[raw.tensor]!.shape;
    if (toInt8) {
      const c = this.constant(value);
      if (c) t = this.operandConst(`${value}/int8`, c.dtype, c.shape, c.data);
      else {
        t = this.addTensor(`${value}/int8`, shape, T_INT8, undefined, this.rangeQuant(value));
        this.emit('QUANTIZE', [raw.tensor], [t]);
      }
    } else t = this.dequantize(raw.tensor);
    const placed = { tensor: t, perm: raw.perm };
    this.converted.set(key, placed);
    return placed;
  }

  /** A float32 copy of an int8 tensor (one per tensor). */
  dequantize(tensor: number): number {
    const cached = this.dequantized.get(tensor);
    if (cached !== undefined) return cached;
    const src = this.tensors[tensor]!;
    const t = this.addTensor(`${src.name}/float`, src.shape, T_FLOAT32);
    this.emit('DEQUANTIZE', [tensor], [t]);
    this.dequantized.set(tensor, t);
    return t;
  }

  rawPlacement(value: string): Placed {
    const p = this.placed.get(value);
    if (p) return p;
    const c = this.constant(value);
    if (!c) throw new EdgelmError('input', `${this.file}: value '${value}' is used before it is computed`);
    const t = this.constTensor(value, c.dtype, c.shape, c.data);
    const placed = { tensor: t, perm: identity(c.shape.length) };
    this.placed.set(value, placed);
    return placed;
  }

  /** The value's tensor in physical order `perm` (identity = logical order), transposing if needed. */
  get(value: string, perm?: Perm): number {
    const p = this.placement(value);
    const want = perm ?? identity(p.perm.length);
    if (want.length === p.perm.length && want.every((v, i) => v === p.perm[i])) return p.tensor;
    const key = `${value}|${want.join(',')}|${this.tensors[p.tensor]!.type}`;
    const cached = this.permuted.get(key);
    if (cached !== undefined) return cached;
    const c = this.constant(value);
    let t: number;
    if (c) {
      t = this.operandConst(`${value}/${want.join('')}`, c.dtype, want.map((d) => c.shape[d]!), transposeData(c.data, c.shape, want));
    } else {
      const logical = this.shapeOf(value);
      // Output dim i takes logical dim want[i], which sits at physical position p.perm.indexOf(want[i]).
      const tperm = want.map((d) => p.perm.indexOf(d));
      t = this.activation(`${value}/transpose`, want.map((d) => logical[d]!), this.dtypeOf(value), p.tensor);
      this.emit('TRANSPOSE', [p.tensor, this.int32Const(`${value}/perm`, tperm)], [t], { type: OPTIONS.TransposeOptions, fields: [] });
    }
    this.permuted.set(key, t);
    return t;
  }

  /** A spatial op's input as NHWC, whatever its logical layout. */
  nhwc(value: string, layout: Layout): number {
    return this.get(value, layout === 'NCHW' ? NHWC_OF_NCHW : identity(4));
  }

  /** Records a spatial op's NHWC output tensor for an output value in `layout`. */
  spatialOut(node: Node, layout: Layout): { tensor: number; place(): void; shape: number[] } {
    const out = node.outputs[0]!;
    const logical = this.shapeOf(out);
    const perm = layout === 'NCHW' ? NHWC_OF_NCHW : identity(4);
    const tensor = this.activation(out, perm.map((d) => logical[d]!), this.dtypeOf(out));
    return { tensor, shape: perm.map((d) => logical[d]!), place: () => this.place(out, tensor, perm) };
  }

  /**
   * If the node's only consumer is an activation TFLite can fuse, absorbs it: returns its code and the
   * value name the fused output should carry. The node's own output must not be a graph output.
   */
  fuse(node: Node): { code: number; value: string } {
    const out = node.outputs[0]!;
    const users = this.users.get(out) ?? [];
    if (users.length === 1 && !this.outputNames.has(out)) {
      const next = users[0]!;
      const code = fusedActivation(next, attrsOf(next));
      if (code !== undefined) {
        this.absorbed.add(next);
        return { code, value: next.outputs[0]! };
      }
    }
    return { code: ACTIVATION.NONE, value: out };
  }

  /** Emits a same-shape op on one input, keeping the input's physical order. */
  elementwise(node: Node, op: BuiltinOp, options?: { type: number; fields: OptionField[] }, version = 1): void {
    const x = this.placement(node.inputs[0]!);
    const out = node.outputs[0]!;
    const shape = x.perm.map((d) => this.shapeOf(out)[d]!);
    const t = this.activation(out, shape, this.dtypeOf(out));
    this.emit(op, [x.tensor], [t], options, version);
    this.place(out, t, x.perm);
  }

  /**
   * Emits a broadcasting binary op. Both operands in the same physical order when their ranks match
   * (constants are permuted to follow), otherwise in logical order.
   */
  binary(node: Node, op: BuiltinOp, options?: (fused: number) => { type: number; fields: OptionField[] }): void {
    const [a, b] = node.inputs as [string, string];
    const outRank = this.shapeOf(node.outputs[0]!).length;
    // Follow the physical order of a full-rank activation operand; constants are permuted to match.
    let perm = identity(outRank);
    for (const v of [a, b]) {
      const p = this.placement(v);
      if (!this.constant(v) && p.perm.length === outRank && !isIdentity(p.perm)) {
        perm = p.perm;
        break;
      }
    }
    const operand = (v: string): number | undefined => {
      const rank = this.shapeOf(v).length;
      if (rank === outRank) return this.get(v, perm);
      if (isIdentity(perm)) return this.get(v);
      const c = this.constant(v);
      if (!c) return undefined;
      // Lift a lower-rank constant to full rank (numpy aligns trailing dims), then permute it.
      const full = [...new Array<number>(outRank - rank).fill(1), ...c.shape];
      return this.operandConst(`${v}/${perm.join('')}`, c.dtype, perm.map((d) => full[d]!), transposeData(c.data, full, perm));
    };
    let ta = operand(a);
    let tb = operand(b);
    if (ta === undefined || tb === undefined) {
      perm = identity(outRank);
      ta = this.get(a);
      tb = this.get(b);
    }
    if (this.q8 && (op === 'MAXIMUM' || op === 'MINIMUM')) {
      ta = this.withQuant(ta, this.outQuant!);
      tb = this.withQuant(tb, this.outQuant!);
    }
    const fused = options ? this.fuse(node) : { code: ACTIVATION.NONE, value: node.outputs[0]! };
    const logical = this.shapeOf(node.outputs[0]!);
    const t = this.activation(fused.value, perm.map((d) => logical[d]!), this.dtypeOf(node.outputs[0]!));
    this.emit(op, [ta, tb], [t], options?.(fused.code));
    this.place(fused.value, t, perm);
  }

  /** Emits a single-output op on logical-order inputs with extra constant inputs. */
  plain(node: Node, op: BuiltinOp, extra: number[] = [], options?: { type: number; fields: OptionField[] }, version = 1): number {
    const ins = node.inputs.filter((i) => i).map((i) => this.get(i));
    const out = node.outputs[0]!;
    const t = this.activation(out, this.shapeOf(out), this.dtypeOf(out));
    this.emit(op, [...ins, ...extra], [t], options, version);
    this.place(out, t);
    return t;
  }
}

export const opts = (type: number, fields: OptionField[] = []): { type: number; fields: OptionField[] } => ({ type, fields });
const fusedOnly = (type: number) => (code: number) => opts(type, [[0, 'i8', code]]);

function padding(a: Record<string, unknown>, inShape: number[], kernel: [number, number]): { code: number; pads?: number[] } {
  if (a.padding === 'SAME') return { code: PADDING.SAME };
  const pads = a.padding === 'EXPLICIT' ? (a.pads as number[]) : [0, 0, 0, 0];
  if (pads.every((p) => p === 0)) return { code: PADDING.VALID };
  // Explicit pads equal to what SAME would choose for this size need no PAD op.
  const same = samePads([inShape[1]!, inShape[2]!], kernel, a.strides as [number, number], (a.dilations ?? [1, 1]) as [number, number]);
  if (same.every((p, i) => p === pads[i])) return { code: PADDING.SAME };
  return { code: PADDING.VALID, pads };
}

/** PAD (or PADV2 with a fill value) of an NHWC tensor by [top, left, bottom, right]. */
function padNhwc(l: Lowerer, name: string, x: number, shape: number[], pads: number[], fill = 0): { tensor: number; shape: number[] } {
  const [t, lf, b, r] = pads as [number, number, number, number];
  const outShape = [shape[0]!, shape[1]! + t + b, shape[2]! + lf + r, shape[3]!];
  const out = l.activation(`${name}/pad`, outShape, 'float32', x);
  const paddings = l.int32Const(`${name}/paddings`, [0, 0, t, b, lf, r, 0, 0], [4, 2]);
  if (fill === 0) l.emit('PAD', [x, paddings], [out], opts(OPTIONS.PadOptions));
  else l.emit('PADV2', [x, paddings, fillConst(l, `${name}/fill`, fill, x)], [out], opts(OPTIONS.PadV2Options));
  return { tensor: out, shape: outShape };
}

/** A scalar fill value in the type of tensor `like` (quantized and clamped for int8). */
function fillConst(l: Lowerer, name: string, value: number, like: number): number {
  const q = l.tensors[like]!.quant;
  if (l.tensors[like]!.type !== T_INT8 || !q) return l.floatConst(name, Float32Array.of(value), []);
  const code = Math.max(-128, Math.min(127, Math.round(value / q.scale[0]!) + q.zeroPoint[0]!));
  return l.addTensor(name, [], T_INT8, Uint8Array.of(code & 0xff), { scale: [q.scale[0]!], zeroPoint: [q.zeroPoint[0]!], axis: 0 });
}

function weight(l: Lowerer, node: Node, index: number): Tensor {
  const c = l.constant(node.inputs[index]!);
  if (!c) throw l.fail(node, `input ${index} (weights) must be a constant for TFLite`);
  if (c.dtype !== 'float32') throw l.fail(node, `weights of dtype ${c.dtype} are not supported`);
  return c;
}

/** The shape of a float run-time weight (input 1), which TFLite's float kernels take as a tensor; a quantized export refuses it. */
function runtimeWeight(l: Lowerer, node: Node): number[] {
  if (l.plan && !l.plan.exclude(node)) throw l.fail(node, 'input 1 (weights) must be a constant to quantize it');
  const dtype = l.dtypeOf(node.inputs[1]!);
  if (dtype !== 'float32') throw l.fail(node, `weights of dtype ${dtype} are not supported`);
  return l.shapeOf(node.inputs[1]!);
}

function bias(l: Lowerer, node: Node, index: number, channels: number): number {
  const name = node.inputs[index];
  if (name) {
    const c = l.constant(name);
    if (c) return l.constTensor(name, c.dtype, c.shape, c.data);
    return l.get(name);
  }
  // TFLite's converter always writes a bias; some kernels (and every quantized one) expect it.
  return l.floatConst(`${node.name}/bias`, new Float32Array(channels), [channels]);
}

const unary = (op: BuiltinOp, optionType?: number): Lowering => (l, n) => l.elementwise(n, op, optionType ? opts(optionType) : undefined);

const reducer = (op: BuiltinOp): Lowering => (l, n, a) => {
  const x = l.placement(n.inputs[0]!);
  const rank = x.perm.length;
  const axes = ((a.axes as number[]).length ? (a.axes as number[]) : identity(rank)).map((ax) => (ax < 0 ? ax + rank : ax));
  const physAxes = axes.map((ax) => x.perm.indexOf(ax)).sort((p, q) => p - q);
  const keep = a.keepDims === true;
  // Output order: the surviving physical dims, renumbered among the surviving logical dims.
  const survivors = x.perm.filter((d) => keep || !axes.includes(d));
  const logicalSurvivors = identity(rank).filter((d) => keep || !axes.includes(d));
  const perm = survivors.map((d) => logicalSurvivors.indexOf(d));
  const out = n.outputs[0]!;
  const logical = l.shapeOf(out);
  const t = l.activation(out, perm.map((d) => logical[d]!), l.dtypeOf(out));
  l.emit(op, [x.tensor, l.int32Const(`${n.name}/axes`, physAxes)], [t], opts(OPTIONS.ReducerOptions, [[0, 'bool', keep]]));
  l.place(out, t, perm);
};

export const TFLITE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  relu: unary('RELU'),
  relu6: unary('RELU6'),
  sigmoid: unary('LOGISTIC'),
  tanh: unary('TANH'),
  abs: unary('ABS', OPTIONS.AbsOptions),
  neg: unary('NEG', OPTIONS.NegOptions),
  exp: unary('EXP', OPTIONS.ExpOptions),
  log: unary('LOG'),
  sqrt: unary('SQRT'),
  rsqrt: unary('RSQRT'),
  square: unary('SQUARE', OPTIONS.SquareOptions),
  round: unary('ROUND'),
  elu: (l, n, a) => {
    if (a.alpha !== 1) throw l.fail(n, 'ELU with alpha ≠ 1 has no TFLite builtin');
    l.elementwise(n, 'ELU');
  },
  leakyRelu: (l, n, a) => l.elementwise(n, 'LEAKY_RELU', opts(OPTIONS.LeakyReluOptions, [[0, 'f32', a.alpha as number]])),
  gelu: (l, n, a) => l.elementwise(n, 'GELU', opts(OPTIONS.GeluOptions, [[0, 'bool', a.approximate === 'tanh']])),
  identity: (l, n) => l.place(n.outputs[0]!, l.placement(n.inputs[0]!).tensor, l.placement(n.inputs[0]!).perm),
  clip: (l, n, a) => {
    const code = fusedActivation(n, a);
    if (code === ACTIVATION.RELU6) return l.elementwise(n, 'RELU6');
    if (code === ACTIVATION.RELU_N1_TO_1) return l.elementwise(n, 'RELU_N1_TO_1');
    if (code === ACTIVATION.RELU) return l.elementwise(n, 'RELU');
    // General clip: min(max(x, lo), hi) with scalar constants.
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    let cur = x.tensor;
    if (a.min !== -Infinity) {
      const t = l.activation(`${n.name}/max`, shape, 'float32');
      l.emit('MAXIMUM', [cur, l.floatConst(`${n.name}/lo`, Float32Array.of(a.min as number), [])], [t]);
      cur = t;
    }
    if (a.max !== Infinity) {
      const t = l.activation(`${n.name}/min`, shape, 'float32');
      l.emit('MINIMUM', [cur, l.floatConst(`${n.name}/hi`, Float32Array.of(a.max as number), [])], [t]);
      cur = t;
    }
    l.place(n.outputs[0]!, cur, x.perm);
  },
  swish: (l, n) => {
    // x · sigmoid(x): TFLite's HARD_SWISH is a different function.
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    const s = l.activation(`${n.name}/sigmoid`, shape, 'float32');
    l.emit('LOGISTIC', [x.tensor], [s]);
    const t = l.activation(n.outputs[0]!, shape, 'float32');
    l.emit('MUL', [x.tensor, s], [t], opts(OPTIONS.MulOptions, [[0, 'i8', ACTIVATION.NONE]]));
    l.place(n.outputs[0]!, t, x.perm);
  },
  softplus: (l, n) => {
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    const e = l.activation(`${n.name}/exp`, shape, 'float32');
    l.emit('EXP', [x.tensor], [e]);
    const p = l.activation(`${n.name}/add`, shape, 'float32');
    l.emit('ADD', [e, l.floatConst(`${n.name}/one`, Float32Array.of(1), [])], [p], opts(OPTIONS.AddOptions, [[0, 'i8', 0]]));
    const t = l.activation(n.outputs[0]!, shape, 'float32');
    l.emit('LOG', [p], [t]);
    l.place(n.outputs[0]!, t, x.perm);
  },
  reciprocal: (l, n) => {
    const t = l.activation(n.outputs[0]!, l.shapeOf(n.outputs[0]!), 'float32');
    l.emit('DIV', [l.floatConst(`${n.name}/one`, Float32Array.of(1), []), l.get(n.inputs[0]!)], [t], opts(OPTIONS.DivOptions, [[0, 'i8', 0]]));
    l.place(n.outputs[0]!, t);
  },
  add: arithmetic('ADD', OPTIONS.AddOptions),
  sub: arithmetic('SUB', OPTIONS.SubOptions),
  mul: arithmetic('MUL', OPTIONS.MulOptions),
  div: arithmetic('DIV', OPTIONS.DivOptions),
  pow: (l, n) => {
    // POW takes one type for both operands; ONNX's may differ, the result having the base's type.
    const [x, y] = [l.dtypeOf(n.inputs[0]!), l.dtypeOf(n.inputs[1]!)];
    if (tflType(y) === tflType(x)) return l.binary(n, 'POW');
    if (tflType(x) === T_FLOAT32) return l.binary({ ...n, inputs: [n.inputs[0]!, castValue(l, n, 1, x)] }, 'POW');
    // An integer base with a float exponent: computed in float, truncated to the base's type (as onnxruntime).
    const wide = `${n.name}/float`;
    l.types.set(wide, { dtype: 'float32', shape: l.shapeOf(n.outputs[0]!) });
    l.binary({ ...n, inputs: [castValue(l, n, 0, 'float32'), castValue(l, n, 1, 'float32')], outputs: [wide] }, 'POW');
    castValue(l, { ...n, inputs: [wide] }, 0, x, n.outputs[0]!);
  },
  maximum: (l, n) => l.binary(n, 'MAXIMUM'),
  minimum: (l, n) => l.binary(n, 'MINIMUM'),
  equal: (l, n) => l.binary(n, 'EQUAL'),
  less: (l, n) => l.binary(n, 'LESS'),
  greater: (l, n) => l.binary(n, 'GREATER'),
  prelu: (l, n) => l.binary(n, 'PRELU'),
  where: (l, n) => l.plain(n, 'SELECT_V2', [], opts(OPTIONS.SelectV2Options)),
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
      const w = l.weights(n, `${n.inputs[1]}/fc`, [m, k], wT as Float32Array, 0);
      const t = l.activation(n.outputs[0]!, l.shapeOf(n.outputs[0]!), 'float32');
      const fields: OptionField[] = [[0, 'i8', ACTIVATION.NONE]];
      if (aShape.length > 2) fields.push([2, 'bool', true]);
      l.emit('FULLY_CONNECTED', [x, w, l.biasFor(n, -1, m, x, w)], [t], opts(OPTIONS.FullyConnectedOptions, fields), aShape.length > 2 ? 5 : 1);
      l.place(n.outputs[0]!, t);
      return;
    }
    l.plain(n, 'BATCH_MATMUL', [], opts(OPTIONS.BatchMatMulOptions, [[0, 'bool', a.transposeA as boolean], [1, 'bool', a.transposeB as boolean]]));
  },
  conv2d: (l, n, a) => {
    const w = l.constant(n.inputs[1]!);
    const [kh, kw, cin, cout] = (w ? weight(l, n, 1).shape : runtimeWeight(l, n)) as [number, number, number, number];
    const layout = a.layout as Layout;
    let x = l.nhwc(n.inputs[0]!, layout);
    const inShape = NHWC(l.shapeOf(n.inputs[0]!), layout);
    const pad = padding(a, inShape, [kh, kw]);
    if (pad.pads) x = padNhwc(l, n.name, x, inShape, pad.pads).tensor;
    const fused = l.fuse(n);
    const wOhwi = w ? l.weights(n, n.inputs[1]!, [cout, kh, kw, cin], transposeData(w.data as Float32Array, w.shape, [3, 0, 1, 2]), 0, { index: 2, x }) : l.get(n.inputs[1]!, [3, 0, 1, 2]);
    const logical = l.shapeOf(n.outputs[0]!);
    const perm = layout === 'NCHW' ? NHWC_OF_NCHW : identity(4);
    const t = l.activation(fused.value, perm.map((d) => logical[d]!), 'float32');
    const [sh, sw] = a.strides as [number, number];
    const [dh, dw] = a.dilations as [number, number];
    l.emit('CONV_2D', [x, wOhwi, l.biasFor(n, 2, cout, x, wOhwi)], [t], opts(OPTIONS.Conv2DOptions, [[0, 'i8', pad.code], [1, 'i32', sw], [2, 'i32', sh], [3, 'i8', fused.code], [4, 'i32', dw], [5, 'i32', dh]]), dh > 1 || dw > 1 ? 2 : 1);
    l.place(fused.value, t, perm);
  },
  depthwiseConv2d: (l, n, a) => {
    const w = weight(l, n, 1);
    const [kh, kw, cin, mult] = w.shape as [number, number, number, number];
    const layout = a.layout as Layout;
    let x = l.nhwc(n.inputs[0]!, layout);
    const inShape = NHWC(l.shapeOf(n.inputs[0]!), layout);
    const pad = padding(a, inShape, [kh, kw]);
    if (pad.pads) x = padNhwc(l, n.name, x, inShape, pad.pads).tensor;
    const fused = l.fuse(n);
    // [kh, kw, in, mult] → [1, kh, kw, in·mult]: the same bytes, channel c·mult + m last.
    const wt = l.weights(n, n.inputs[1]!, [1, kh, kw, cin * mult], w.data as Float32Array, 3, { index: 2, x });
    const logical = l.shapeOf(n.outputs[0]!);
    const perm = layout === 'NCHW' ? NHWC_OF_NCHW : identity(4);
    const t = l.activation(fused.value, perm.map((d) => logical[d]!), 'float32');
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
  reshape: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  unsqueeze: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  squeeze: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  transpose: (l, n, a) => {
    // A transpose only changes which logical order the data is in: record it, emit nothing yet.
    const x = l.placement(n.inputs[0]!);
    const rank = x.perm.length;
    const perm = (a.perm as number[]).length ? (a.perm as number[]) : identity(rank).reverse();
    // Output logical dim j = input logical dim perm[j]; physical dim i holds input logical x.perm[i].
    l.place(n.outputs[0]!, x.tensor, x.perm.map((d) => perm.indexOf(d)));
  },
  concat: (l, n, a) => {
    const first = l.placement(n.inputs[0]!);
    const rank = first.perm.length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const perm = first.perm;
    const ins = n.inputs.map((i) => l.get(i, perm));
    const out = n.outputs[0]!;
    const t = l.activation(out, perm.map((d) => l.shapeOf(out)[d]!), l.dtypeOf(out));
    l.emit('CONCATENATION', ins, [t], opts(OPTIONS.ConcatenationOptions, [[0, 'i32', perm.indexOf(axis)], [1, 'i8', 0]]));
    l.place(out, t, perm);
  },
  split: (l, n, a) => {
    const x = l.get(n.inputs[0]!);
    const rank = l.shapeOf(n.inputs[0]!).length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const outs = n.outputs.map((o) => l.activation(o, l.shapeOf(o), l.dtypeOf(o)));
    l.emit('SPLIT_V', [x, l.int32Const(`${n.name}/sizes`, a.sizes as number[]), l.int32Const(`${n.name}/axis`, [axis], [])], outs, opts(OPTIONS.SplitVOptions, [[0, 'i32', n.outputs.length]]));
    n.outputs.forEach((o, i) => l.place(o, outs[i]!));
  },
  slice: (l, n, a) => {
    const shape = l.shapeOf(n.inputs[0]!);
    const rank = shape.length;
    const begin = new Array<number>(rank).fill(0);
    const end = [...shape];
    const strides = new Array<number>(rank).fill(1);
    let endMask = 0;
    (a.axes as number[]).forEach((ax, j) => {
      const axis = ax < 0 ? ax + rank : ax;
      const [b, e, s] = sliceBounds(shape[axis]!, (a.starts as number[])[j]!, (a.ends as number[])[j]!, (a.steps as number[])[j] ?? 1);
      begin[axis] = b;
      end[axis] = e;
      strides[axis] = s;
      if (e < 0) endMask |= 1 << axis; // "through index 0" for negative steps
    });
    l.plain(n, 'STRIDED_SLICE', [l.int32Const(`${n.name}/begin`, begin), l.int32Const(`${n.name}/end`, end), l.int32Const(`${n.name}/strides`, strides)], opts(OPTIONS.StridedSliceOptions, [[1, 'i32', endMask]]));
  },
  gather: (l, n, a) => {
    const rank = l.shapeOf(n.inputs[0]!).length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const idx = l.constant(n.inputs[1]!);
    const indices = idx
      ? l.constTensor(n.inputs[1]!, 'int32', idx.shape, Int32Array.from(idx.data as ArrayLike<number | bigint>, (v) => {
          const i = Number(v);
          return i < 0 ? i + l.shapeOf(n.inputs[0]!)[axis]! : i;
        }))
      : runtimeIndices(l, n, axis);
    const out = n.outputs[0]!;
    const t = l.activation(out, l.shapeOf(out), l.dtypeOf(out));
    l.emit('GATHER', [l.embeddingTable(n, axis) ?? l.get(n.inputs[0]!), indices], [t], opts(OPTIONS.GatherOptions, [[0, 'i32', axis]]));
    l.place(out, t);
  },
  pad: (l, n, a) => {
    const x = l.placement(n.inputs[0]!);
    const rank = x.perm.length;
    const pads = a.pads as number[];
    const phys = x.perm.flatMap((d) => [pads[d]!, pads[d + rank]!]);
    const out = n.outputs[0]!;
    const t = l.activation(out, x.perm.map((d) => l.shapeOf(out)[d]!), l.dtypeOf(out));
    const paddings = l.int32Const(`${n.name}/paddings`, phys, [rank, 2]);
    if (a.mode === 'reflect') l.emit('MIRROR_PAD', [x.tensor, paddings], [t], opts(OPTIONS.MirrorPadOptions, [[0, 'i8', 0]]));
    else if (a.value === 0) l.emit('PAD', [x.tensor, paddings], [t], opts(OPTIONS.PadOptions));
    else l.emit('PADV2', [x.tensor, paddings, fillConst(l, `${n.name}/value`, a.value as number, x.tensor)], [t], opts(OPTIONS.PadV2Options));
    l.place(out, t, x.perm);
  },
  cast: (l, n, a) => {
    const from = tflType(l.dtypeOf(n.inputs[0]!));
    const to = tflType(a.to as DType);
    if (from === to) return l.place(n.outputs[0]!, l.placement(n.inputs[0]!).tensor, l.placement(n.inputs[0]!).perm);
    l.elementwise(n, 'CAST', opts(OPTIONS.CastOptions, [[0, 'i8', from], [1, 'i8', to]]));
  },
  expand: (l, n) => {
    // RESHAPE to the output's rank, then TILE the size-1 dims: LiteRT's build has no BROADCAST_TO.
    const out = l.shapeOf(n.outputs[0]!);
    const inShape = l.shapeOf(n.inputs[0]!);
    const lifted = [...new Array<number>(out.length - inShape.length).fill(1), ...inShape];
    let x = l.get(n.inputs[0]!);
    if (lifted.length !== inShape.length) {
      const r = l.activation(`${n.name}/lifted`, lifted, l.dtypeOf(n.inputs[0]!), x);
      l.emit('RESHAPE', [x, l.int32Const(`${n.name}/lifted_shape`, lifted)], [r], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', lifted]]));
      x = r;
    }
    const t = l.activation(n.outputs[0]!, out, l.dtypeOf(n.outputs[0]!), x);
    l.emit('TILE', [x, l.int32Const(`${n.name}/multiples`, out.map((d, i) => d / lifted[i]!))], [t]);
    l.place(n.outputs[0]!, t);
  },
  reduceMean: reducer('MEAN'),
  reduceSum: reducer('SUM'),
  reduceMax: reducer('REDUCE_MAX'),
  reduceMin: reducer('REDUCE_MIN'),
  reduceProd: reducer('REDUCE_PROD'),
  ...ELEMENTWISE_LOWERINGS,
  ...REDUCE_LOWERINGS,
  ...INDEXING_LOWERINGS,
  ...SCATTER_LOWERINGS,
  ...SORT_LOWERINGS,
};

/** Run-time Gather indices made non-negative (ONNX counts −1 from the end; TFLite's GATHER refuses them). */
function runtimeIndices(l: Lowerer, n: Node, axis: number): number {
  const v = n.inputs[1]!;
  const shape = l.shapeOf(v);
  const t = l.activation(`${v}/nonnegative`, shape, 'int32');
  l.emit('FLOOR_MOD', [l.get(v), l.int32Const(`${n.name}/dim`, [l.shapeOf(n.inputs[0]!)[axis]!], [])], [t]);
  return t;
}

/** IR dtypes TFLite's arithmetic kernels take only quantized (with scale and zero point). */
const SMALL_INTS = new Set<DType>(['int8', 'uint8', 'int16']);

/**
 * ADD/SUB/MUL/DIV. Plain (unquantized) 8- and 16-bit integers run in int32 between CASTs: TFLite's
 * kernels for them expect quantization parameters (uint8 ADD aborts LiteRT, MUL computes garbage).
 */
function arithmetic(op: 'ADD' | 'SUB' | 'MUL' | 'DIV', optionType: number): Lowering {
  return (l, n) => {
    const dtype = l.dtypeOf(n.outputs[0]!);
    if (!SMALL_INTS.has(dtype)) return l.binary(n, op, fusedOnly(optionType));
    const wide = `${n.name}/int32`;
    l.types.set(wide, { dtype: 'int32', shape: l.shapeOf(n.outputs[0]!) });
    l.binary({ ...n, inputs: [castValue(l, n, 0, 'int32'), castValue(l, n, 1, 'int32')], outputs: [wide] }, op, fusedOnly(optionType));
    castValue(l, { ...n, inputs: [wide] }, 0, dtype, n.outputs[0]!);
  };
}

/** Node input `i` cast to `dtype` (a new value, or `out`), in the same physical order. Returns its name. */
export function castValue(l: Lowerer, n: Node, i: number, dtype: DType, out = `${n.inputs[i]}/${dtype}`): string {
  const v = n.inputs[i]!;
  const x = l.placement(v);
  const shape = l.shapeOf(v);
  l.types.set(out, { dtype, shape });
  const t = l.activation(out, x.perm.map((d) => shape[d]!), dtype);
  l.emit('CAST', [x.tensor], [t], opts(OPTIONS.CastOptions, [[0, 'i8', tflType(l.dtypeOf(v))], [1, 'i8', tflType(dtype)]]));
  l.place(out, t, x.perm);
  return out;
}

function NHWC(shape: number[], layout: Layout): number[] {
  return layout === 'NCHW' ? [shape[0]!, shape[2]!, shape[3]!, shape[1]!] : shape;
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

/** Lowers a graph into the model description serializeTflite writes. TFLite shapes are static: run-time dims are fixed first. */
export function lowerToTflite(source: Graph, file: string, options: TfliteLowerOptions = {}): TflModel {
  const dims = options.dims ?? chooseDims(source, {}, options.batchSize ?? 1);
  // Folding is exact up to float rounding and saves a MUL and an ADD per batch norm, float or not.
  const graph = fixDims(foldBatchNorm(source), dims);
  // Measured (LiteRT JS, CompiledModel on wasm): RESHAPE, TILE, PAD, SLICE, FILL, RANGE and RESIZE_* whose
  // shape, multiples, paddings, bounds or size is a run-time tensor load and run but return uninitialized
  // output (the kernel makes the tensor dynamic; the API's output buffer is not the one written), so run-time shapes are refused.
  requireStaticValues(graph, file, 'the TFLite writer');
  requireOps(graph, file, 'the TFLite writer', TFLITE_LOWERINGS);
  const l = new Lowerer(graph, file, options.quant);
  requireRankAtMost(graph, file, 'the TFLite writer', l.types);
  const io = options.quant?.mode === 'int8' ? options.quant.io : 'float';
  // uint8 edges carry the int8 parameters shifted by 128 and a QUANTIZE (requantize) to/from int8.
  const asUint8 = (t: number, name: string): number => {
    const q = l.tensors[t]!.quant!;
    return l.addTensor(name, l.tensors[t]!.shape, DTYPES.uint8.tflite, undefined, { ...q, zeroPoint: q.zeroPoint.map((z) => z + 128) });
  };
  const inputs = graph.inputs.map((i) => {
    l.q8 = io !== 'float' && i.dtype === 'float32';
    let t = l.activation(i.name, l.shapeOf(i.name), i.dtype);
    l.place(i.name, t);
    if (l.q8 && io === 'uint8') {
      const u = asUint8(t, i.name);
      l.tensors[t]!.name = `${i.name}/int8`;
      l.emit('QUANTIZE', [u], [t], undefined, 2);
      t = u;
    }
    // A leading run-time dim stays resizable (-1 in the signature); the others are part of the graph's arithmetic.
    l.tensors[t]!.shapeSignature = source.inputs.find((s) => s.name === i.name)!.shape.map((d, k) => (k === 0 && typeof d === 'string' && dims.find((c) => c.symbol === d)?.reason === 'batch' ? -1 : (i.shape[k] as number)));
    return t;
  });
  for (const node of graph.nodes) {
    if (l.absorbed.has(node)) continue;
    const empty = node.outputs.find((o) => l.types.get(o)?.shape.includes(0));
    if (empty) throw l.fail(node, `output '${empty}' is empty (a zero-size dim); LiteRT does not run empty tensors`);
    l.begin(node);
    TFLITE_LOWERINGS[node.op]!(l, node, attrsOf(node));
  }
  if (options.quant?.int8Only && l.floatNodes.length)
    throw new EdgelmError('unsupported', `${file}: --int8-only: ${l.floatNodes.length} op${l.floatNodes.length === 1 ? '' : 's'} would run in float: ${l.floatNodes.join(', ')}`);
  const claimed = new Set<number>();
  const outputs = graph.outputs.map((o) => {
    if (graph.constants.has(o.name)) throw new EdgelmError('unsupported', `${file}: output '${o.name}' is a constant; TFLite outputs must be computed`);
    const float = l.dtypeOf(o.name) === 'float32';
    // An int8 result with float I/O takes its layout TRANSPOSE on int8 codes, then one DEQUANTIZE.
    const int8Inside = float && io === 'float' && options.quant?.mode === 'int8' && !graph.constants.has(o.name) && l.tensors[l.rawPlacement(o.name).tensor]!.type === T_INT8;
    l.q8 = io !== 'float' ? float : int8Inside;
    let t = l.get(o.name);
    if (int8Inside) t = l.dequantize(t);
    // An output that is an input tensor or another output (an identity Transpose, an unbounded Clip)
    // needs a tensor of its own: a subgraph whose input is its output reads back uninitialized memory.
    if (inputs.includes(t) || claimed.has(t)) {
      const copy = l.activation(`${o.name}/copy`, l.tensors[t]!.shape, l.dtypeOf(o.name), t);
      l.emit('RESHAPE', [t, l.int32Const(`${o.name}/copy_shape`, l.tensors[t]!.shape)], [copy], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', l.tensors[t]!.shape]]));
      t = copy;
    }
    claimed.add(t);
    if (l.q8 && io === 'uint8') {
      const u = asUint8(t, `${o.name}/uint8`);
      l.emit('QUANTIZE', [t], [u], undefined, 2);
      t = u;
    }
    // The signature's name goes to the tensor users read; an int8 tensor it was dequantized from gets a suffix.
    for (const other of l.tensors) if (other.name === o.name) other.name = `${o.name}/int8`;
    l.tensors[t]!.name = o.name;
    return t;
  });
  return {
    description: options.description ?? `edgelm: ${graph.name}`,
    tensors: l.tensors,
    buffers: l.buffers,
    operators: l.operators,
    inputs,
    outputs,
    signature: {
      key: 'serving_default',
      inputs: graph.inputs.map((i, k) => [i.name, inputs[k]!]),
      outputs: graph.outputs.map((o, k) => [o.name, outputs[k]!]),
    },
  };
}
