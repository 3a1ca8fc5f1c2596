// What a quantized export should look like: the choices of `edgelm quantize`, handed to the writers.
// The writers apply it while lowering, because where a weight's channel axis lies and which ops have
// integer kernels are facts of the target format.
import { EdgelmError } from '../errors.js';
import type { Node } from '../ir/graph.js';
import type { QuantParams, Tensor } from '../ir/tensor.js';
import { allOf, chooseParams, qrange, quantizeTensor, quantizeValue, type FloatSource, type QuantScheme } from './minmax.js';
import { quantizeRows } from './rows.js';

export const QUANT_MODES = ['dynamic', 'int8', 'float16'] as const;
export type QuantMode = (typeof QUANT_MODES)[number];
/** 'auto': per channel, except TFLite FULLY_CONNECTED per tensor as the TFLite converter writes it (older runtimes and Arm NN need that). */
export type Granularity = 'auto' | 'tensor' | 'channel' | 'block';

/** The granularity a layer's weights get in a format. */
export function weightGranularity(plan: QuantPlan, op: string, format: 'tflite' | 'onnx' | 'tfjs'): Exclude<Granularity, 'auto'> {
  if (format === 'tfjs') return 'tensor'; // the converter's uint8 storage: one min/scale per tensor
  if (plan.granularity !== 'auto') return plan.granularity;
  return format === 'tflite' && (op === 'dense' || op === 'matMul') ? 'tensor' : 'channel';
}

/** Observed [min, max] of an activation value over the calibration data. */
export interface Range {
  min: number;
  max: number;
}

export interface QuantPlan {
  mode: QuantMode;
  /** Bits of weight codes (2–8); codes below 8 bits are stored in int8 containers unless the format has a narrower type. */
  bits: number;
  granularity: Granularity;
  blockSize: number;
  /** Nodes that stay in float. */
  exclude: (node: Node) => boolean;
  /** Calibrated ranges of activation values, by value name (int8 mode). */
  ranges: Map<string, Range>;
  /** Type of the model's inputs and outputs in int8 mode. */
  io: 'float' | 'int8' | 'uint8';
  /** int8 TFLite: every op on int8 tensors, or a refusal naming those that are not (the converter's TFLITE_BUILTINS_INT8). */
  int8Only?: boolean;
  /**
   * Block codes chosen by a calibrated method (GPTQ), by weight constant name, as [N, K] (one row per
   * output feature): the writers store these instead of rounding the weight to nearest.
   */
  blockWeights?: ReadonlyMap<string, { codes: Uint8Array; params: QuantParams }>;
  /** Mixed precision (--target-bits, see mixed.ts): bits of a block weight other than `bits`, by weight constant name. */
  weightBits?: ReadonlyMap<string, number>;
}

/** The plan as it applies to one block weight: its own bits under mixed precision. */
export function planForWeight(plan: QuantPlan, weight: string): QuantPlan {
  const bits = plan.weightBits?.get(weight);
  return bits === undefined || bits === plan.bits ? plan : { ...plan, bits };
}

export function defaultPlan(mode: QuantMode, over: Partial<QuantPlan> = {}): QuantPlan {
  return { mode, bits: 8, granularity: 'auto', blockSize: 32, exclude: () => false, ranges: new Map(), io: 'float', ...over };
}

/**
 * Symmetric weight codes (zero point 0, range ±(2^(b−1) − 1)) as TFLite requires and onnxruntime's QDQ
 * kernels prefer, per tensor or per channel; `channelAxis` is where output channels lie in the
 * written layout.
 */
export function quantizeWeights(name: string, data: Float32Array | FloatSource, shape: readonly number[], plan: QuantPlan, granularity: 'tensor' | 'channel', channelAxis: number, minScales?: Float32Array): { codes: Int8Array; params: QuantParams } {
  const scheme: QuantScheme = { bits: plan.bits, signed: true, symmetric: true, narrow: true, granularity };
  if (granularity === 'channel') scheme.axis = channelAxis;
  const q = quantizeTensor(name, data, shape, scheme);
  // Signed codes of at most 8 bits come as an Int8Array already.
  const codes = q.codes instanceof Int8Array ? q.codes : Int8Array.from(q.codes);
  if (minScales) raiseScales(allOf(data), shape, channelAxis, codes, q.params, minScales, qrange(scheme)[1]);
  return { codes, params: q.params };
}

/**
 * Weight scales a bias must fit under: the integer kernels add the bias as int32 at
 * input_scale·weight_scale[c], so a channel whose weights are near zero (a folded batch norm with
 * γ ≈ 0) but whose bias is not overflows int32. The floor is the smallest scale that keeps the bias code
 * within ±(2^31 − 1), with a margin for the float32 the scale is stored in; the TFLite converter raises
 * the weight scale the same way.
 */
export function biasScaleFloor(bias: Float32Array, inputScale: number): Float32Array {
  return Float32Array.from(bias, (b) => (Math.abs(b) / (inputScale * (2 ** 31 - 1))) * (1 + 2 ** -16));
}

/** Raises the scales below `minScales` to it (per channel along `axis`, or the largest floor for one scale) and recodes those weights. */
function raiseScales(data: Float32Array, shape: readonly number[], axis: number, codes: Int8Array, params: QuantParams, minScales: Float32Array, qmax: number): void {
  const perChannel = params.scale.length > 1;
  const floors = perChannel ? minScales : Float32Array.of(Math.max(...minScales));
  if (floors.length !== params.scale.length) throw new EdgelmError('input', `bias of ${floors.length} channels for weights with ${params.scale.length} scales`);
  const raised = floors.map((f, c) => (params.scale[c]! < f ? 1 : 0));
  if (!raised.some(Boolean)) return;
  const dim = perChannel ? shape[axis]! : 1;
  const inner = perChannel ? shape.slice(axis + 1).reduce((a, b) => a * b, 1) : data.length;
  for (let c = 0; c < floors.length; c++) if (raised[c]) params.scale[c] = Math.fround(floors[c]!);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % dim;
    if (raised[c]) codes[i] = quantizeValue(data[i]!, 1 / params.scale[c]!, 0, -qmax, qmax);
  }
}

/**
 * An embedding table (a constant float [rows, dim] gathered on axis 0) in dynamic mode: int8 codes with
 * one scale per row, at any --bits (a table's error reaches every token's residual stream). Undefined
 * when it stays float.
 */
export function quantizeEmbedding(plan: QuantPlan | undefined, node: Node, axis: number, table: Tensor | undefined): { codes: Int8Array; params: QuantParams } | undefined {
  if (plan?.mode !== 'dynamic' || plan.exclude(node) || axis !== 0 || !table || table.dtype !== 'float32' || table.shape.length !== 2) return undefined;
  // Rows a few MB at a time: the same codes as quantizeWeights on the whole table, without its floats in memory.
  return quantizeRows(node.inputs[0]!, table, { ...plan, bits: 8 });
}

/**
 * Block-wise weight codes: blocks of `plan.blockSize` consecutive elements along `reductionAxis`, each
 * with its own min-max range (widened to 0), scale and integer zero point; codes unsigned in
 * [0, 2^b − 1]. This is llama.cpp's Q4_1 with the zero point rounded as PyTorch's observers round it,
 * the scheme weight-only block kernels (onnxruntime MatMulNBits) compute with.
 */
export function quantizeBlockWeights(name: string, data: Float32Array, shape: readonly number[], plan: QuantPlan, reductionAxis: number): { codes: Uint8Array; params: QuantParams } {
  if (plan.bits > 8) throw new EdgelmError('usage', `${name}: block-wise codes have at most 8 bits`);
  const q = quantizeTensor(name, data, shape, { bits: plan.bits, signed: false, symmetric: false, narrow: false, granularity: 'block', axis: reductionAxis, blockSize: plan.blockSize });
  return { codes: q.codes as Uint8Array, params: q.params };
}

/** Where the reduction (input-feature) axis of a weight lies in IR layout: dense [in, out], matMul [K, N] or transposed [N, K]. */
export function reductionAxisOf(node: Node, transposeB: boolean): number | undefined {
  if (node.op === 'dense') return 0;
  if (node.op === 'matMul') return transposeB ? 1 : 0;
  return undefined;
}

/**
 * Symmetric int8 codes as uint8 with zero point 128 (onnxruntime's u8·u8 integer kernels), in place:
 * c + 128 is the two's-complement byte with its top bit flipped.
 */
export function toUint8Codes(codes: Int8Array): Uint8Array {
  const u = new Uint8Array(codes.buffer, codes.byteOffset, codes.length);
  const aligned = codes.byteOffset % 4 === 0 ? codes.length >>> 2 : 0;
  const words = new Uint32Array(codes.buffer, codes.byteOffset, aligned);
  for (let i = 0; i < words.length; i++) words[i]! ^= 0x80808080;
  for (let i = aligned * 4; i < u.length; i++) u[i]! ^= 0x80;
  return u;
}

/** int8 activation parameters for a calibrated range: asymmetric over [−128, 127], zero exact. */
/** Magnitudes no int8 scale can hold beside ordinary values: float32 masking constants (finfo.min, -inf). */
const MASKING_MAGNITUDE = 1e30;

/**
 * Drops the ranges int8 would get wrong, so those values stay in float: one never observed (only empty
 * tensors), one of zero width (constant on the calibration data, as `(1 - mask) * min` is with a mask of
 * ones: one code would erase the padding a real mask adds), and one reaching a masking constant (a
 * causal mask's finfo.min would make every score one code).
 */
export function withoutUnquantizable(ranges: Map<string, Range>): Map<string, Range> {
  for (const [v, r] of ranges)
    if (!(r.max > r.min) || Math.max(Math.abs(r.min), Math.abs(r.max)) >= MASKING_MAGNITUDE) ranges.delete(v);
  return ranges;
}

export function activationParams(range: Range): { scale: number; zeroPoint: number } {
  return chooseParams(range.min, range.max, { bits: 8, signed: true, symmetric: false, narrow: false, granularity: 'tensor' });
}

/**
 * int32 bias codes at scale input_scale·weight_scale[c] (zero point 0), the rule integer kernels
 * share. Rounds half to even like the weights.
 */
export function quantizeBias(name: string, bias: Float32Array, inputScale: number, weightScales: Float32Array): { codes: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(bias, (_, c) => inputScale * weightScales[weightScales.length === 1 ? 0 : c]!);
  const codes = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const v = Math.round(bias[c]! / scales[c]!);
    if (!Number.isFinite(bias[c]!)) throw new EdgelmError('input', `${name}: element ${c} is ${bias[c]}; cannot quantize NaN or Inf`);
    if (Math.abs(v) > 2 ** 31 - 1) throw new EdgelmError('input', `${name}: bias ${bias[c]} overflows int32 at scale ${scales[c]}; keep this layer in float (--exclude)`);
    codes[c] = v;
  }
  return { codes, scales };
}

/**
 * Turns --exclude patterns (globs with * and ?, or plain substrings) into a node filter. A node answers to
 * its own name and to the values it produces: a convolution that absorbed a batch norm produces the
 * batch norm's output, so excluding the batch norm's name (which errors print) keeps the fused layer in float.
 */
export function excludeFilter(patterns: readonly string[]): (node: Node) => boolean {
  const res = patterns.map((p) => (/[*?]/.test(p) ? new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`) : p));
  const matches = (name: string) => res.some((r) => (typeof r === 'string' ? name.includes(r) : r.test(name)));
  return (node) => matches(node.name) || node.outputs.some(matches);
}
