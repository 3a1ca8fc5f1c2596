// What `edgelm inspect` reports about a model: a plain record, rendered by the CLI as a table or JSON.
import { DTYPES, isDType, isFloatDType } from '../ir/dtype.js';
import { readTfliteInfo, type TfliteTensorInfo } from '../import/tflite/index.js';
import { consumers, producers, type Graph } from '../ir/graph.js';
import { detectFormat, modelFiles } from '../import/index.js';
import { byteSize, isMaskConstant, sparsity, type Dim, type Tensor } from '../ir/tensor.js';

export interface TensorReport {
  /** The tensor's name in the file (the stored integer weight where the reader dequantized one). */
  name: string;
  /** The IR constant's name where it differs from the stored name (a dequantized weight is named after its DequantizeLinear). */
  irName?: string;
  shape: number[];
  /** The element type as stored (int8 for a weight behind DequantizeLinear, not the float32 it is read as). */
  dtype: string;
  bytes: number;
  /** Fraction of exact zeros. */
  sparsity: number;
  quantization?: Quantization;
}

/** x ≈ scale · (q − zeroPoint): one entry per tensor, or per slice along `axis`, or per block of `blockSize` along it. */
export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  bits: number;
  axis?: number;
  blockSize?: number;
}

export interface IoReport {
  name: string;
  shape: Dim[];
  dtype: string;
  /** TFLite inputs and outputs of a full-integer model (`--io int8`): the parameters a caller quantizes with. */
  quantization?: Quantization;
}

export interface InspectReport {
  file: string;
  format: string;
  fileBytes: number;
  inputs: IoReport[];
  outputs: IoReport[];
  /** IR op → number of nodes. */
  ops: Record<string, number>;
  nodes: number;
  /**
   * Elements of all floating-point constant tensors (weights read from integers count once, as
   * stored), except the scales of quantized activations (see quantizationConstants).
   */
  params: number;
  weightBytes: number;
  tensors: TensorReport[];
  /**
   * An ONNX file the IR cannot read, reported from the file itself: why (the import's refusal, without
   * the file name), and each node whose op no
   * translation reads (ONNX → ONNX quantization keeps them as they are; other targets refuse).
   */
  unreadable?: { reason: string; nodes: { op: string; node: string }[] };
}

export function inspectGraph(graph: Graph, file: string, fileBytes = modelBytes(file)): InspectReport {
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const tensors: TensorReport[] = [...graph.constants.values()].map((t) => {
    const stored = t.quant?.stored;
    const r: TensorReport = { name: stored?.name ?? t.name, ...(stored && stored.name !== t.name ? { irName: t.name } : {}), shape: t.shape, dtype: stored?.dtype ?? t.dtype, bytes: storedBytes(t), sparsity: sparsity(t) };
    if (t.quant) {
      const q = t.quant;
      r.quantization = { scale: [...q.scale], zeroPoint: [...q.zeroPoint], bits: q.bits };
      if (q.axis !== undefined) r.quantization.axis = q.axis;
      if (q.blockSize !== undefined) r.quantization.blockSize = q.blockSize;
    }
    return r;
  });
  const arithmetic = quantizationConstants(graph);
  // Parameters: float (or quantized) constants, less what is no weight: quantization arithmetic,
  // attention masks (a causal mask compared or added; a −1e9 fill) and one-element constants (scales, ε).
  const users = consumers(graph);
  const reshapes = new Set(['slice', 'reshape', 'expand', 'unsqueeze', 'squeeze', 'cast', 'transpose']);
  // A value that only reaches comparisons (through slicing or reshaping): PyTorch's tril mask buffer.
  const comparesOnly = (value: string, depth = 0): boolean =>
    depth < 8 && (users.get(value) ?? []).every((n) => n.op === 'equal' || n.op === 'less' || n.op === 'greater' || (reshapes.has(n.op) && n.inputs[0] === value && comparesOnly(n.outputs[0]!, depth + 1)));
  const floats = [...graph.constants.values()].filter((t) => (isFloatDType(t.dtype) || t.quant) && !arithmetic.has(t.name) && t.data.length > 1 && !isMaskConstant(t) && !comparesOnly(t.name));
  return {
    file,
    format: graph.format,
    fileBytes,
    inputs: graph.inputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    outputs: graph.outputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : 1))),
    nodes: graph.nodes.length,
    params: floats.reduce((s, t) => s + t.data.length, 0),
    weightBytes: [...graph.constants.values()].reduce((s, t) => s + storedBytes(t), 0),
    tensors,
  };
}

/**
 * Bytes of a constant as its file stores it: a weight the reader dequantized (float data with the
 * QuantParams it was stored with) counts its codes, `bits` each.
 */
function storedBytes(t: Tensor): number {
  return t.quant && isFloatDType(t.dtype) ? Math.ceil((t.data.length * t.quant.bits) / 8) : byteSize(t);
}

/** Ops that carry a quantized activation between its `round` and the multiplication by its scale. */
const CARRY = new Set<string>(['add', 'sub', 'clip', 'maximum', 'minimum']);

/**
 * The constants of activation quantization in a graph read from a quantized file (ONNX QDQ,
 * DynamicQuantizeLinear): its scales and zero points are float constants of the IR but no model
 * parameters — without this a quantized file would count more parameters than its float source.
 * They are the constant operands next to a `round` (the IR has no other use for it): the divisor
 * before it (with the constants that compute a run-time divisor through div/clip: the 255 of
 * DynamicQuantizeLinear) and, after it, those of the carry ops up to and including the scale's mul.
 */
function quantizationConstants(graph: Graph): Set<string> {
  const made = producers(graph);
  const users = consumers(graph);
  const found = new Set<string>();
  const constant = (v: string | undefined): boolean => v !== undefined && graph.constants.has(v);
  /** The constants a divisor is computed from through div and clip (at most a few steps). */
  const divisor = (v: string | undefined, depth: number): void => {
    if (v === undefined) return;
    if (constant(v)) return void found.add(v);
    const p = made.get(v);
    if (!p || depth > 3 || (p.op !== 'div' && p.op !== 'clip')) return;
    for (const i of p.inputs.slice(p.op === 'div' ? 1 : 0, p.op === 'div' ? 2 : 1)) divisor(i, depth + 1);
  };
  for (const r of graph.nodes) {
    if (r.op !== 'round') continue;
    let p = made.get(r.inputs[0]!);
    if (p?.op === 'clip') p = made.get(p.inputs[0]!);
    if (p?.op === 'div') divisor(p.inputs[1], 0);
    const walk = (v: string, depth: number): void => {
      for (const u of users.get(v) ?? []) {
        if (depth > 4 || (u.op !== 'mul' && !CARRY.has(u.op))) continue;
        for (const i of u.inputs) if (constant(i)) found.add(i);
        if (u.op !== 'mul') walk(u.outputs[0]!, depth + 1);
      }
    };
    walk(r.outputs[0]!, 0);
  }
  return found;
}

/** Bytes of the model file and every file it references (weight shards, external data). */
export function modelBytes(file: string): number {
  try {
    const found = detectFormat(file);
    return modelFiles(found.file, found.format).reduce((s, f) => s + f.bytes, 0);
  } catch {
    return 0;
  }
}

/** The same report for a TFLite file, read from its flatbuffer (ops are TFLite builtins). */
export function inspectTflite(file: string): InspectReport {
  const m = readTfliteInfo(file);
  const ops: Record<string, number> = {};
  for (const o of m.operators) ops[o.op] = (ops[o.op] ?? 0) + 1;
  const io = (k: number): IoReport => {
    const t = m.tensors[k]!;
    return { name: t.name, shape: t.shape, dtype: t.dtype, ...(t.quant ? { quantization: tfliteQuantization(t.quant, t.dtype) } : {}) };
  };
  const constants = m.tensors.filter((t) => t.data.length > 0);
  const tensors: TensorReport[] = constants.map((t) => {
    const n = t.shape.reduce((p, d) => p * d, 1);
    const width = n ? t.data.length / n : 1;
    let zeros = 0;
    // Types edgelm does not model (STRING, COMPLEX64, ...) are counted bytewise.
    const float = isDType(t.dtype) && isFloatDType(t.dtype);
    // An element is zero when all its bytes are (also −0.0 in float16/32 after masking the sign bit).
    for (let i = 0; i < n; i++) {
      let nonzero = 0;
      for (let b = 0; b < width; b++) nonzero |= t.data[i * width + b]! & (b === width - 1 && float ? 0x7f : 0xff);
      if (!nonzero) zeros++;
    }
    const r: TensorReport = { name: t.name, shape: t.shape, dtype: t.dtype, bytes: t.data.length, sparsity: n ? zeros / n : 0 };
    if (t.quant) r.quantization = tfliteQuantization(t.quant, t.dtype);
    return r;
  });
  const isParam = (t: (typeof constants)[number]): boolean => (isDType(t.dtype) && isFloatDType(t.dtype)) || t.quant !== undefined;
  return {
    file,
    format: 'tflite',
    fileBytes: modelBytes(file),
    inputs: m.inputs.map(io),
    outputs: m.outputs.map(io),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : 1))),
    nodes: m.operators.length,
    params: constants.filter(isParam).reduce((s, t) => s + t.shape.reduce((p, d) => p * d, 1), 0),
    weightBytes: constants.reduce((s, t) => s + t.data.length, 0),
    tensors,
  };
}

/** A TFLite tensor's QuantizationParameters as inspect reports them (bits from the element type). */
function tfliteQuantization(q: NonNullable<TfliteTensorInfo['quant']>, dtype: string): Quantization {
  const bits = isDType(dtype) ? 8 * DTYPES[dtype].bytes : 8;
  return { scale: q.scale, zeroPoint: q.zeroPoint, bits, ...(q.scale.length > 1 ? { axis: q.axis } : {}) };
}
