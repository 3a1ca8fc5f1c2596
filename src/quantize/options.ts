// The quantize options: their defaults and the rules between them, in one place. quantizeModel
// resolves them, the writers check a plan against their format, and the CLI runs both before any
// work, so that no combination is silently ignored.
import type { Dataset } from '../data/index.js';
import { QUANTIZE_DEFAULTS } from '../defaults.js';
import { usageError } from '../errors.js';
import type { ExportFormat } from '../export/index.js';
import { weightLayers, type Graph } from '../ir/graph.js';
import type { Backend } from '../runtime/tfjs/backend.js';
import { checkBackend, checkInteger, rangeError } from '../train/options.js';
import type { CalibrationMethod } from './calibrate.js';
import { excludeFilter, QUANT_MODES, type Granularity, type QuantMode, type QuantPlan } from './plan.js';

export interface QuantizeOptions {
  /** dynamic (int8 weights, float activations), int8 (full integer; needs calibration) or float16. */
  mode?: QuantMode;
  /** Bits of weight codes, 2 to 8 (TFLite and ONNX; TF.js stores 8). */
  bits?: number;
  /** Weight scales per tensor, channel or block (ONNX MatMulNBits); auto as each format's converter does. */
  granularity?: Granularity;
  /** Elements per block with granularity 'block': a power of two from 16 to 256. */
  blockSize?: number;
  /** Node-name patterns (globs with * and ?, or substrings) kept in float; each must match a node. */
  exclude?: readonly string[];
  /** int8 TFLite: type of the model's inputs and outputs. */
  io?: QuantPlan['io'];
  /** int8 TFLite: refuse, naming them, ops that would run in float (TFLITE_BUILTINS_INT8). */
  int8Only?: boolean;
  /** Samples whose activation ranges set the int8 parameters (mode int8). */
  calibration?: Dataset;
  calibrationMethod?: CalibrationMethod;
  /** Calibration samples used at most. */
  calibrationLimit?: number;
  backend?: Backend;
  /** Block weights by round-to-nearest, or by GPTQ or AWQ on the calibration data (see gptq-layers.ts, awq-layers.ts). */
  method?: QuantMethod;
  /** GPTQ: damping added to H's diagonal, as a fraction of its mean. */
  damp?: number;
  /** GPTQ: quantize columns by decreasing H_ii. */
  actOrder?: boolean;
  /** Mixed precision: average stored bits per block weight; the most sensitive weights stay at 8 bits (see mixed.ts). */
  targetBits?: number;
  /** Mixed precision: let the LM head go to `bits` like the other weights. */
  lowBitHead?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export const QUANT_METHODS = ['rtn', 'gptq', 'awq'] as const;
export type QuantMethod = (typeof QUANT_METHODS)[number];


export const GRANULARITIES: readonly Granularity[] = ['auto', 'tensor', 'channel', 'block'];
const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile'];
const IO_TYPES: readonly QuantPlan['io'][] = ['float', 'int8', 'uint8'];

export type ResolvedQuantizeOptions = Required<Omit<QuantizeOptions, 'calibration' | 'onProgress' | 'targetBits'>> & Pick<QuantizeOptions, 'calibration' | 'onProgress' | 'targetBits'>;

const oneOf = <T>(flag: string, v: unknown, values: readonly T[]): T => {
  if (!values.includes(v as T)) throw rangeError(flag, values.join(', '), v);
  return v as T;
};

/**
 * The options with defaults filled in, or a usage error for a value out of range or a setting that
 * would have no effect with the others. `calibration` is only checked for presence.
 */
export function resolveQuantizeOptions(opts: Omit<QuantizeOptions, 'calibration'> & { calibration?: unknown }): ResolvedQuantizeOptions {
  const o = { ...QUANTIZE_DEFAULTS, exclude: [] as readonly string[], lowBitHead: false, ...opts };
  const mode = oneOf('--mode', o.mode, QUANT_MODES);
  const method = oneOf('--method', o.method, QUANT_METHODS);
  if (method === 'gptq' && o.calibration === undefined) throw usageError('--method gptq needs --calibration DATA: each layer\'s rounding is fitted to its inputs on real samples');
  if (method === 'awq' && o.calibration === undefined) throw usageError('--method awq needs --calibration DATA: each layer\'s scales come from its inputs on real samples');
  if (!(Number.isInteger(o.bits) && o.bits >= 2 && o.bits <= 8)) throw rangeError('--bits', 'an integer from 2 to 8', o.bits);
  const granularity = oneOf('--granularity', o.granularity, GRANULARITIES);
  checkInteger('--block-size', o.blockSize, 1);
  // onnxruntime's MatMulNBits kernels' limits (onnxruntime-node 1.30 cannot load blocks above 256).
  if (o.blockSize < 16 || (o.blockSize & (o.blockSize - 1)) !== 0) throw usageError(`onnxruntime's MatMulNBits needs a block size that is a power of two ≥ 16; got --block-size ${o.blockSize}`);
  if (o.blockSize > 256) throw usageError(`onnxruntime's MatMulNBits takes blocks of at most 256; got --block-size ${o.blockSize}`);
  oneOf('--calibration-method', o.calibrationMethod, CALIBRATION_METHODS);
  checkInteger('--calibration-limit', o.calibrationLimit, 1);
  const io = oneOf('--io', o.io, IO_TYPES);
  checkBackend(o.backend);
  if (!Array.isArray(o.exclude) || o.exclude.some((p) => typeof p !== 'string' || !p)) throw usageError('--exclude: expected node-name patterns (non-empty strings)');

  if (mode === 'int8' && o.calibration === undefined) throw usageError('--mode int8 needs --calibration DATA: activation ranges come from running the model on real samples');
  if (mode === 'float16' && o.bits !== QUANTIZE_DEFAULTS.bits) throw usageError(`--bits ${o.bits} has no effect with --mode float16 (weights are stored as 16-bit floats)`);
  if (mode === 'float16' && granularity !== 'auto') throw usageError(`--granularity ${granularity} has no effect with --mode float16 (float16 weights have no scales)`);
  if (granularity === 'block' && mode !== 'dynamic') throw usageError('--granularity block is weight-only: use it with --mode dynamic');
  if (granularity === 'block' && ![2, 4, 8].includes(o.bits)) throw usageError(`--granularity block packs 2, 4 or 8 bits per code (onnxruntime MatMulNBits); got --bits ${o.bits}`);
  if (granularity !== 'block' && o.blockSize !== QUANTIZE_DEFAULTS.blockSize) throw usageError(`--block-size ${o.blockSize} has no effect without --granularity block`);
  if (method !== 'rtn' && (mode !== 'dynamic' || granularity !== 'block')) throw usageError(`--method ${method} applies to block-wise weights: use --mode dynamic --granularity block (ONNX MatMulNBits)`);
  if (!(typeof o.damp === 'number' && o.damp >= 0 && o.damp <= 1)) throw rangeError('--damp', 'a fraction of the mean diagonal from 0 to 1', o.damp);
  if (method !== 'gptq' && o.damp !== QUANTIZE_DEFAULTS.damp) throw usageError(`--damp ${o.damp} has no effect without --method gptq`);
  if (method !== 'gptq' && o.actOrder) throw usageError('--act-order has no effect without --method gptq');
  checkTargetBits(o, mode, granularity);
  if (io !== 'float' && mode !== 'int8') throw usageError(`--io ${io} applies to --mode int8 TFLite files`);
  if (o.int8Only && mode !== 'int8') throw usageError('--int8-only applies to --mode int8 TFLite files');
  if (o.int8Only && o.exclude.length) throw usageError('--int8-only keeps no layer in float: drop --exclude, or drop --int8-only');
  if (mode !== 'int8') {
    if (o.calibrationMethod !== QUANTIZE_DEFAULTS.calibrationMethod) throw usageError(`--calibration-method ${o.calibrationMethod} has no effect without --mode int8 (only int8 calibrates activation ranges)`);
    if (o.calibrationLimit !== QUANTIZE_DEFAULTS.calibrationLimit && method === 'rtn' && o.targetBits === undefined) throw usageError(`--calibration-limit ${o.calibrationLimit} has no effect without --mode int8, --method gptq|awq or --target-bits`);
  }
  return o as ResolvedQuantizeOptions;
}

/** --target-bits B: block weights at --bits below 8, B between them, calibration text to measure KL on. */
function checkTargetBits(o: { targetBits?: number; lowBitHead?: boolean; bits: number; calibration?: unknown }, mode: QuantMode, granularity: Granularity): void {
  if (o.targetBits === undefined) {
    if (o.lowBitHead) throw usageError('--low-bit-head has no effect without --target-bits');
    return;
  }
  if (!(typeof o.targetBits === 'number' && Number.isFinite(o.targetBits) && o.targetBits > 0)) throw rangeError('--target-bits', 'an average number of bits per weight such as 4.5', o.targetBits);
  if (mode !== 'dynamic' || granularity !== 'block') throw usageError('--target-bits mixes block-wise weight precisions: use it with --mode dynamic --granularity block (ONNX MatMulNBits)');
  if (o.bits >= 8) throw usageError(`--target-bits keeps sensitive weights at 8 bits and the others at --bits: give --bits below 8 (got ${o.bits})`);
  if (o.targetBits <= o.bits) throw usageError(`--target-bits ${o.targetBits} must be above --bits ${o.bits}: it counts scales and zero points, so every weight at --bits already averages more`);
  if (o.calibration === undefined) throw usageError('--target-bits needs --calibration DATA: each weight\'s sensitivity is the KL divergence it causes on calibration text');
}

/** Refuses a plan its target format would not apply as asked (checked before any work by the CLI, and by the writers). */
export function checkQuantTarget(plan: Pick<QuantPlan, 'mode' | 'bits' | 'granularity' | 'io' | 'int8Only'>, format: ExportFormat): void {
  if (plan.io !== 'float' && format !== 'tflite') throw usageError(`--io ${plan.io} applies to --mode int8 TFLite files, not ${format}`);
  if (plan.int8Only && format !== 'tflite') throw usageError(`--int8-only applies to --mode int8 TFLite files, not ${format}`);
  if (format === 'tfjs') {
    if (plan.mode === 'int8') throw usageError('TF.js runs float kernels: use --mode dynamic (uint8 weights, as tensorflowjs_converter --quantize_uint8) or float16');
    if (plan.mode === 'dynamic' && plan.bits !== 8) throw usageError(`--bits ${plan.bits}: TF.js stores 8-bit weight codes (uint8, as tensorflowjs_converter); fewer bits apply to TFLite and ONNX`);
    if (plan.granularity === 'channel' || plan.granularity === 'block') throw usageError(`--granularity ${plan.granularity}: TF.js stores quantized weights per tensor; use --granularity auto or tensor`);
  }
  if (format === 'tflite' && plan.granularity === 'block') throw usageError('--granularity block: TFLite has no block-wise weight quantization; use channel or tensor, or write ONNX');
}

/** Refuses node-name patterns that match no node (a typo would otherwise be ignored), listing a few layer names. */
export function checkPatternsMatch(graph: Graph, patterns: readonly string[], flag = '--exclude'): void {
  for (const p of patterns) {
    const matches = excludeFilter([p]);
    if (graph.nodes.some(matches)) continue;
    const layers = weightLayers(graph).map((n) => n.name);
    const all = layers.length ? layers : graph.nodes.map((n) => n.name);
    const names = all.slice(0, 5).join(', ');
    throw usageError(`${flag} '${p}' matches no node of ${graph.name}`, `${all.length > 5 ? `layers are named like ${names}, …` : `the layers are ${names}`}; edgelm inspect lists every node`);
  }
}
