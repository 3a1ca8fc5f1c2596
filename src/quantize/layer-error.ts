// The per-layer report: for each layer the plan quantizes, the error that layer alone introduces.
// Its float inputs come from a float run on calibration data; the layer is then run once with its
// weights (and, in int8 mode, its input) passed through Q(x) and x̂, and its output compared with the
// float output. Weight codes are the ones the writers emit (same scheme, same channel groups).
import { fitToModel, type Dataset } from '../data/index.js';
import { planInputs } from '../data/feeds.js';
import { decodeHalfs, floatToHalf } from '../ir/float16.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import { attrsOf, opDef } from '../ir/registry.js';
import type { Tf, TfTensor } from '../ir/op.js';
import { loadTf } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';
import { batchFeeds } from './calibrate.js';
import { dequantizeTensor } from './minmax.js';
import { EdgelmError, usageError } from '../errors.js';
import { activationParams, planForWeight, quantizeBlockWeights, quantizeWeights, reductionAxisOf, weightGranularity, type QuantPlan } from './plan.js';

export interface LayerError {
  node: string;
  op: string;
  /** Weight elements. */
  params: number;
  /** Cosine similarity of the layer's quantized and float outputs. */
  cosine: number;
  /** Signal-to-quantization-noise ratio of the output, in dB. */
  sqnrDb: number;
  /** Its SQNR is more than OUTLIER_DB below the median of the model's layers (see sqnrOutliers). */
  outlier?: boolean;
}

/**
 * A layer quantizes far worse than the rest when its SQNR is this many dB below the median layer's:
 * 15 dB is a noise power 30× the typical layer's, which per-tensor weights with one outlier channel or
 * an activation range stretched by a rare value give, and ordinary depth-to-depth spread (a few dB) does not.
 */
export const OUTLIER_DB = 15;

/** The median SQNR of the layers measured (exact ones left out), and the names of the layers far below it. */
export function sqnrOutliers(rows: readonly Pick<LayerError, 'node' | 'sqnrDb'>[]): { medianDb: number; nodes: Set<string> } {
  const finite = rows.map((r) => r.sqnrDb).filter(Number.isFinite).sort((a, b) => a - b);
  // With fewer than three layers a median says nothing about "the rest".
  if (finite.length < 3) return { medianDb: NaN, nodes: new Set() };
  const mid = finite.length >> 1;
  const medianDb = finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { medianDb, nodes: new Set(rows.filter((r) => r.sqnrDb < medianDb - OUTLIER_DB).map((r) => r.node)) };
}

/** One line naming the outlier layers, or undefined when there are none. */
export function outlierWarning(rows: readonly LayerError[]): string | undefined {
  const { medianDb, nodes } = sqnrOutliers(rows);
  const flagged = rows.filter((r) => nodes.has(r.node));
  if (!flagged.length) return undefined;
  return `${flagged.length} layer${flagged.length === 1 ? '' : 's'} quantize${flagged.length === 1 ? 's' : ''} far worse than the rest (SQNR more than ${OUTLIER_DB} dB below the median ${medianDb.toFixed(1)} dB): ${flagged.map((r) => `${r.node} (${r.sqnrDb.toFixed(1)} dB)`).join(', ')}; keep ${flagged.length === 1 ? 'it' : 'them'} in float (--exclude) or try --granularity channel`;
}

/** Layers whose weights a plan quantizes: the weight layers it does not exclude. */
export function quantizableLayers(graph: Graph, plan: QuantPlan): Node[] {
  return weightLayers(graph).filter((n) => !plan.exclude(n));
}

/** x̂ of a weight in IR layout, grouped as the writers group it (output channels, or blocks along the reduction). */
function roundTripWeight(node: Node, data: Float32Array, shape: number[], plan: QuantPlan, format: 'tflite' | 'onnx' | 'tfjs', transposeB: boolean): Float32Array {
  if (plan.mode === 'float16') return decodeHalfs(Uint16Array.from(data, floatToHalf));
  const granularity = weightGranularity(plan, node.op, format);
  if (granularity === 'block') {
    const axis = reductionAxisOf(node, transposeB);
    if (axis === undefined) throw usageError(`${node.name}: block-wise weights apply to MatMul/Gemm weights, not ${node.op}`);
    // Codes a calibrated method chose are stored [N, K]; the IR weight is [K, N] unless axis is 1.
    const chosen = plan.blockWeights?.get(node.inputs[1]!);
    if (chosen) {
      const rows = dequantizeTensor(chosen.codes, axis === 1 ? shape : [shape[1]!, shape[0]!], chosen.params);
      return axis === 1 ? rows : Float32Array.from(rows, (_, i) => rows[(i % shape[1]!) * shape[0]! + Math.floor(i / shape[1]!)]!);
    }
    const q = quantizeBlockWeights(node.inputs[1]!, data, shape, planForWeight(plan, node.inputs[1]!), axis);
    return dequantizeTensor(q.codes, shape, q.params);
  }
  // Output channels are the last axis of every IR weight layout (depthwise: C·M flattened), or the
  // first of a transposed matMul operand.
  const flat = node.op === 'depthwiseConv2d' ? [shape[0]!, shape[1]!, shape[2]! * shape[3]!] : shape;
  const axis = node.op === 'matMul' && transposeB ? 0 : flat.length - 1;
  const q = quantizeWeights(node.inputs[1]!, data, flat, plan, granularity, axis);
  return dequantizeTensor(q.codes, flat, q.params);
}

/** Adds one batch of a layer's float output against its output from round-tripped weights (and fake-quantized input in int8) to `sum`. */
async function accumulate(tf: Tf, graph: Graph, plan: QuantPlan, node: Node, wq: Float32Array, xFloat: TfTensor, yFloat: TfTensor, sum: { dot: number; ny: number; nq: number; noise: number }): Promise<void> {
  const a = attrsOf(node);
  const w = graph.constants.get(node.inputs[1]!)!;
  const range = plan.ranges.get(node.inputs[0]!);
  const out = tf.tidy(() => {
    let x = xFloat;
    if (plan.mode === 'int8' && range) {
      // Fake-quantize the input: x̂ = s·(clamp(round(x/s) + z) − z).
      const p = activationParams(range);
      x = tf.mul(tf.sub(tf.clipByValue(tf.add(tf.round(tf.div(x, p.scale)), p.zeroPoint), -128, 127), p.zeroPoint), p.scale);
    }
    const ins: TfTensor[] = [x, tf.tensor(wq, w.shape, 'float32')];
    const b = node.inputs[2] ? graph.constants.get(node.inputs[2]) : undefined;
    if (b) ins.push(tf.tensor(b.data as Float32Array, b.shape, 'float32'));
    return opDef(node.op).run(tf, ins, a)[0]!;
  });
  const y = (await yFloat.data()) as Float32Array;
  const yq = (await out.data()) as Float32Array;
  out.dispose();
  for (let k = 0; k < y.length; k++) {
    sum.dot += y[k]! * yq[k]!;
    sum.ny += y[k]! * y[k]!;
    sum.nq += yq[k]! * yq[k]!;
    sum.noise += (y[k]! - yq[k]!) ** 2;
  }
}

export async function layerErrors(graph: Graph, plan: QuantPlan, format: 'tflite' | 'onnx' | 'tfjs', data: Dataset, limit = 128): Promise<LayerError[]> {
  const tf = await loadTf('wasm');
  const layers = quantizableLayers(graph, plan);
  if (!layers.length) return [];
  const fitted = fitToModel(data, graph.inputs[0]?.shape);
  const n = Math.min(limit, fitted.shape[0]!);
  const staticBatch = graph.inputs[0]?.shape[0];
  const sums = layers.map(() => ({ dot: 0, ny: 0, nq: 0, noise: 0 }));
  const others = planInputs(fitted, graph.inputs);
  const exec = new GraphExecutor(tf, graph);
  const fetch = layers.flatMap((node) => [node.inputs[0]!, node.outputs[0]!]);
  const quantized = layers.map((node) => {
    const w = graph.constants.get(node.inputs[1]!)!;
    return roundTripWeight(node, w.data as Float32Array, w.shape, plan, format, attrsOf(node).transposeB === true);
  });
  try {
    let step = typeof staticBatch === 'number' ? staticBatch : n;
    for (let start = 0; start + (typeof staticBatch === 'number' ? staticBatch : 1) <= n; ) {
      const rows = Math.min(step, n - start);
      const feeds = batchFeeds(tf, fitted, others, graph.inputs[0]!.name, start, rows);
      let values: TfTensor[];
      try {
        values = exec.run(feeds, fetch);
      } catch (e) {
        tf.dispose(Object.values(feeds));
        // A Reshape that fixes the batch at 1 under a dynamic input (see calibrate): one sample at a time.
        if (rows === 1 || typeof staticBatch === 'number') throw e;
        step = 1;
        continue;
      }
      try {
        for (let i = 0; i < layers.length; i++) await accumulate(tf, graph, plan, layers[i]!, quantized[i]!, values[2 * i]!, values[2 * i + 1]!, sums[i]!);
      } finally {
        for (const t of new Set([...values, ...Object.values(feeds)])) t.dispose();
      }
      start += rows;
    }
  } finally {
    exec.dispose();
  }
  if (typeof staticBatch === 'number' && n < staticBatch) throw new EdgelmError('input', `${graph.name}: the per-layer report needs at least one batch of ${staticBatch} samples (the model's fixed batch); got ${n}`);
  const results = layers.map((node, i) => {
    const { dot, ny, nq, noise } = sums[i]!;
    return {
      node: node.name,
      op: node.op,
      params: graph.constants.get(node.inputs[1]!)!.data.length,
      // Rounded to what they tell: cosine to 1e-9 (its distance from 1 is the signal), SQNR to 0.001 dB.
      cosine: ny === 0 && nq === 0 ? 1 : Number((dot / Math.sqrt(ny * nq)).toFixed(9)),
      sqnrDb: noise === 0 ? Infinity : Number((10 * Math.log10(ny / noise)).toFixed(3)),
    };
  });
  const { nodes } = sqnrOutliers(results);
  return results.map((r) => ({ ...r, outlier: nodes.has(r.node) }));
}
