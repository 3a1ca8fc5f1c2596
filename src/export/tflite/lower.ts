// Lowers a Graph to TFLite operators. TFLite wants NHWC activations and OHWI weights; the IR carries
// each value's layout, so a value may live in the flatbuffer *physically permuted* (an NCHW value kept
// as NHWC) and is only transposed back when an op needs its logical order. Elementwise ops pass the
// permutation through, so an NCHW CNN gets one TRANSPOSE at each edge instead of two per layer.
// This file holds the table of every op's lowering (one file per IR family: lower-<family>.ts) and the
// driver, lowerToTflite; the Lowerer (lowerer.ts) builds the flatbuffer's tensors and operators.
import { EdgelmError } from '../../errors.js';
import { DTYPES } from '../../ir/dtype.js';
import { requireOps, type Graph } from '../../ir/graph.js';
import { requireRankAtMost } from '../../ir/verify.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import { foldBatchNorm } from '../../ir/passes/fold-batchnorm.js';
import { chooseDims, fixDims, type DimChoice } from '../../ir/passes/fix-dims.js';
import { requireStaticValues } from '../../ir/value-dims.js';
import type { TflModel } from './flatbuffer.js';
import type { QuantPlan } from '../../quantize/plan.js';
import { OPTIONS } from './schema.js';
import { opts, T_INT8, type Lowering } from './helpers.js';
import { Lowerer } from './lowerer.js';
import { ELEMENTWISE_LOWERINGS } from './lower-elementwise.js';
import { NN_LOWERINGS } from './lower-nn.js';
import { STRUCTURE_LOWERINGS } from './lower-structure.js';
import { REDUCE_LOWERINGS } from './lower-reduce.js';
import { ACTIVATION_LOWERINGS } from './lower-activations.js';
import { MATH_LOWERINGS } from './lower-math.js';
import { RESAMPLE_LOWERINGS } from './lower-resample.js';
import { INDEXING_LOWERINGS } from './lower-indexing.js';
import { SCATTER_LOWERINGS } from './lower-scatter.js';
import { SORT_LOWERINGS } from './lower-sort.js';

export type { Lowering } from './helpers.js';
export { Lowerer } from './lowerer.js';

export interface TfliteLowerOptions {
  /** Size given to run-time batch dims; TFLite shapes are static. Default 1. */
  batchSize?: number;
  /** Sizes of every run-time dim (chooseDims); default: chosen from batchSize and the model. */
  dims?: DimChoice[];
  description?: string;
  /** Quantize while lowering: int8 weights (dynamic), full integer (int8) or float16 weights. */
  quant?: QuantPlan;
}

/** Every op's lowering, one table per IR family (src/ir/ops/<family>.ts ↔ lower-<family>.ts). */
export const TFLITE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  ...ELEMENTWISE_LOWERINGS,
  ...NN_LOWERINGS,
  ...STRUCTURE_LOWERINGS,
  ...REDUCE_LOWERINGS,
  ...ACTIVATION_LOWERINGS,
  ...MATH_LOWERINGS,
  ...RESAMPLE_LOWERINGS,
  ...INDEXING_LOWERINGS,
  ...SCATTER_LOWERINGS,
  ...SORT_LOWERINGS,
};

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
