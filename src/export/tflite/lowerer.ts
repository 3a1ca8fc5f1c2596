// Lowers a Graph to TFLite operators. TFLite wants NHWC activations and OHWI weights; the IR carries
// each value's layout, so a value may live in the flatbuffer *physically permuted* (an NCHW value kept
// as NHWC) and is only transposed back when an op needs its logical order. Elementwise ops pass the
// permutation through, so an NCHW CNN gets one TRANSPOSE at each edge instead of two per layer.
// The Lowerer holds the tensors, buffers and operators being built and each value's placement;
// the op-by-op lowerings are in lower-<family>.ts, merged in lower.ts.
import { EdgelmError } from '../../errors.js';
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import { consumers, type Graph, type Node } from '../../ir/graph.js';
import { inferTypes } from '../../ir/infer.js';
import type { ValueType } from '../../ir/op.js';
import type { Layout } from '../../ir/ops/nn.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { transposeData, type Tensor } from '../../ir/tensor.js';
import type { OptionField, TflOperator, TflQuant, TflTensor } from './flatbuffer.js';
import { floatToHalf } from '../../ir/float16.js';
import { activationParams, biasScaleFloor, quantizeBias, quantizeEmbedding, quantizeWeights, weightGranularity, type QuantPlan } from '../../quantize/plan.js';
import { quantizeTensor, quantizeValue } from '../../quantize/minmax.js';
import { ACTIVATION, OP, OPTIONS, type BuiltinOp } from './schema.js';
import { fusedActivation, identity, isIdentity, NHWC_OF_NCHW, T_FLOAT16, T_FLOAT32, T_INT8, tflType, type Perm } from './helpers.js';

/** Ops that run on int8 tensors in full-integer mode; the rest run in float between DEQUANTIZE and QUANTIZE. */
const INT8_OPS = new Set<OpType>([
  'dense', 'matMul', 'conv2d', 'depthwiseConv2d', 'add', 'sub', 'mul', 'maximum', 'minimum', 'relu', 'relu6',
  'sigmoid', 'tanh', 'softmax', 'maxPool2d', 'avgPool2d', 'reshape', 'squeeze', 'unsqueeze', 'transpose',
  'pad', 'slice', 'identity', 'reduceMean', 'hardSwish', 'concat', 'leakyRelu',
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
 * requires a registered version).
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

/** Whether int8 parameters `q` hold `value` within half a step (it is not clamped). */
function representable(value: number, q: TflQuant): boolean {
  const code = Math.round(value / q.scale[0]!) + q.zeroPoint[0]!;
  return code >= -128 && code <= 127;
}

function toTflQuant(q: { scale: Float32Array | number[]; zeroPoint: Int32Array | number[]; axis?: number }): TflQuant {
  return { scale: [...q.scale], zeroPoint: [...q.zeroPoint], axis: q.axis ?? 0 };
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
    // PADV2 writes its fill as a code at the input's parameters: a fill outside their range needs the
    // output's range, the input requantized to it (see requantized).
    const fill = node.op === 'pad' ? (attrsOf(node).value as number) : 0;
    if (fill !== 0 && !representable(fill, this.outQuant!)) this.outQuant = this.rangeQuant(node.outputs[0]!);
    // int8 MAXIMUM/MINIMUM compare raw codes and CONCATENATION copies them: inputs are brought to the
    // output's parameters (see binary, and concat's requantized).
    if (node.op === 'maximum' || node.op === 'minimum' || node.op === 'concat') this.outQuant = this.rangeQuant(node.outputs[0]!);
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

  /** An int8 node's operand at the node's fixed output parameters (requantized where they differ); else itself. */
  requantized(tensor: number): number {
    return this.q8 && this.outQuant ? this.withQuant(tensor, this.outQuant) : tensor;
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

  /** The one node that reads `value`, when exactly one does and the value is no graph output. */
  soleUser(value: string): Node | undefined {
    const users = this.users.get(value) ?? [];
    return users.length === 1 && !this.outputNames.has(value) ? users[0] : undefined;
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
