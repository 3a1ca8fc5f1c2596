// ONNX writer (opset 17, IR version 8): one entry per IR op. NHWC spatial ops are wrapped in
// Transposes (ONNX convolutions are NCHW); weights are converted to ONNX layouts.
// This file runs the writer: each node through its IR op's Emit entry. The entries are kept per IR
// family next to that family's ONNX reader (src/import/onnx/ops*.ts): one file holds both directions.
import type { DType, TypedArray } from '../../ir/dtype.js';
import { decodeHalfs } from '../../ir/float16.js';
import { VERSION } from '../../version.js';
import { requireOps, type Graph } from '../../ir/graph.js';
import type { ValueType } from '../../ir/op.js';
import { attrsOf, type OpType } from '../../ir/registry.js';
import type { Tensor } from '../../ir/tensor.js';
import { MS_DOMAIN } from './nbits.js';
import { basename } from 'node:path';
import { floatToHalf } from '../../ir/float16.js';
import { foldBatchNorm } from '../../ir/passes/fold-batchnorm.js';
import type { QuantPlan } from '../../quantize/plan.js';
import { ONNX_OPSET, Writer, type Emit } from './writer.js';
import { joined } from './parts.js';
import { ELEMENTWISE_EMIT } from '../../import/onnx/ops.js';
import { NN_EMIT } from '../../import/onnx/ops-nn.js';
import { STRUCTURE_EMIT } from '../../import/onnx/ops-structure.js';
import { REDUCE_EMIT } from '../../import/onnx/ops-reduce.js';
import { ACTIVATION_EMIT, MATH_EMIT } from '../../import/onnx/ops-elementwise.js';
import { RESAMPLE_EMIT } from '../../import/onnx/ops-resample.js';
import { INDEXING_EMIT } from '../../import/onnx/ops-indexing.js';
import { SCATTER_EMIT } from '../../import/onnx/ops-scatter.js';
import { SORT_EMIT } from '../../import/onnx/ops-topk.js';

export { ONNX_OPSET, Writer, type Emit } from './writer.js';

/** Every op's writer entry, one table per IR family. */
const EMIT: Partial<Record<OpType, Emit>> = {
  ...ELEMENTWISE_EMIT,
  ...NN_EMIT,
  ...STRUCTURE_EMIT,
  ...REDUCE_EMIT,
  ...ACTIVATION_EMIT,
  ...MATH_EMIT,
  ...RESAMPLE_EMIT,
  ...INDEXING_EMIT,
  ...SCATTER_EMIT,
  ...SORT_EMIT,
};

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
export function exportOnnx(source: Graph, file: string, plan?: QuantPlan, opts: { externalData?: boolean } = {}): { model: Uint8Array; modelParts: readonly Uint8Array[]; data?: { location: string; bytes: Uint8Array } } {
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
  // As parts (large weights not copied into one buffer), joined only for callers that ask for `model`.
  const out = joined(w.b.encodeParts({ opset: ONNX_OPSET, irVersion: 8, producer: 'edgelm', producerVersion: VERSION, metadata, extraOpsets }));
  return data ? Object.assign(out, { data }) : out;
}
