// What `edgelm inspect` reports about a model: a plain record, rendered by the CLI as a table or JSON.
import { DTYPES, isDType, isFloatDType } from '../ir/dtype.js';
import { readTfliteInfo } from '../import/tflite/index.js';
import type { Graph } from '../ir/graph.js';
import { detectFormat, modelFiles } from '../import/index.js';
import { byteSize, sparsity, type Dim } from '../ir/tensor.js';

export interface TensorReport {
  name: string;
  shape: number[];
  dtype: string;
  bytes: number;
  /** Fraction of exact zeros. */
  sparsity: number;
  quantization?: { scale: number[]; zeroPoint: number[]; bits: number; axis?: number; blockSize?: number };
}

export interface InspectReport {
  file: string;
  format: string;
  fileBytes: number;
  inputs: { name: string; shape: Dim[]; dtype: string }[];
  outputs: { name: string; shape: Dim[]; dtype: string }[];
  /** IR op → number of nodes. */
  ops: Record<string, number>;
  nodes: number;
  /** Elements of all floating-point constant tensors. */
  params: number;
  weightBytes: number;
  tensors: TensorReport[];
}

export function inspectGraph(graph: Graph, file: string, fileBytes = modelBytes(file)): InspectReport {
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const tensors: TensorReport[] = [...graph.constants.values()].map((t) => {
    const r: TensorReport = { name: t.name, shape: t.shape, dtype: t.dtype, bytes: byteSize(t), sparsity: sparsity(t) };
    if (t.quant) {
      const q = t.quant;
      r.quantization = { scale: [...q.scale], zeroPoint: [...q.zeroPoint], bits: q.bits };
      if (q.axis !== undefined) r.quantization.axis = q.axis;
      if (q.blockSize !== undefined) r.quantization.blockSize = q.blockSize;
    }
    return r;
  });
  const floats = [...graph.constants.values()].filter((t) => isFloatDType(t.dtype) || t.quant);
  return {
    file,
    format: graph.format,
    fileBytes,
    inputs: graph.inputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    outputs: graph.outputs.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : 1))),
    nodes: graph.nodes.length,
    params: floats.reduce((s, t) => s + t.data.length, 0),
    weightBytes: [...graph.constants.values()].reduce((s, t) => s + t.data.length * DTYPES[t.dtype].bytes, 0),
    tensors,
  };
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
  const io = (k: number): { name: string; shape: Dim[]; dtype: string } => ({ name: m.tensors[k]!.name, shape: m.tensors[k]!.shape, dtype: m.tensors[k]!.dtype });
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
    if (t.quant) r.quantization = { scale: t.quant.scale, zeroPoint: t.quant.zeroPoint, bits: 8 * width, ...(t.quant.scale.length > 1 ? { axis: t.quant.axis } : {}) };
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
