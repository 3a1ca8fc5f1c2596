// The per-layer report: for each layer the plan quantizes, the error that layer alone introduces.
// Its float inputs come from a float run on calibration data; the layer is then run once with its
// weights (and, in int8 mode, its input) passed through Q(x) and x̂, and its output compared with the
// float output. Weight codes are the ones the writers emit (same scheme, same channel groups).
import type { Dataset } from '../data/index.js';
import { batches, fitToModel } from '../data/index.js';
import { decodeHalfs } from '../ir/float16.js';
import { floatToHalf } from '../ir/float16.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import { attrsOf, opDef } from '../ir/registry.js';
import type { TfTensor } from '../ir/op.js';
import { loadTf } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';
import { dequantizeTensor } from './minmax.js';
import { usageError } from '../errors.js';
import { activationParams, quantizeBlockWeights, quantizeWeights, reductionAxisOf, weightGranularity, type QuantPlan } from './plan.js';

export interface LayerError {
  node: string;
  op: string;
  /** Weight elements. */
  params: number;
  /** Cosine similarity of the layer's quantized and float outputs. */
  cosine: number;
  /** Signal-to-quantization-noise ratio of the output, in dB. */
  sqnrDb: number;
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
    const q = quantizeBlockWeights(node.inputs[1]!, data, shape, plan, axis);
    return dequantizeTensor(q.codes, shape, q.params);
  }
  // Output channels are the last axis of every IR weight layout (depthwise: C·M flattened), or the
  // first of a transposed matMul operand.
  const flat = node.op === 'depthwiseConv2d' ? [shape[0]!, shape[1]!, shape[2]! * shape[3]!] : shape;
  const axis = node.op === 'matMul' && transposeB ? 0 : flat.length - 1;
  const q = quantizeWeights(node.inputs[1]!, data, flat, plan, granularity, axis);
  return dequantizeTensor(q.codes, flat, q.params);
}

export async function layerErrors(graph: Graph, plan: QuantPlan, format: 'tflite' | 'onnx' | 'tfjs', data: Dataset, limit = 128): Promise<LayerError[]> {
  const tf = await loadTf('wasm');
  const layers = quantizableLayers(graph, plan);
  if (!layers.length) return [];
  const fitted = fitToModel(data, graph.inputs[0]?.shape);
  const first = batches(fitted, Math.min(limit, fitted.shape[0]!)).next().value!;
  const exec = new GraphExecutor(tf, graph);
  const input = tf.tensor(first.x, first.shape, first.x instanceof Int32Array ? 'int32' : 'float32');
  const fetch = layers.flatMap((n) => [n.inputs[0]!, n.outputs[0]!]);
  const values = exec.run({ [graph.inputs[0]!.name]: input }, fetch);
  const results: LayerError[] = [];
  try {
    for (let i = 0; i < layers.length; i++) {
      const node = layers[i]!;
      const a = attrsOf(node);
      const w = graph.constants.get(node.inputs[1]!)!;
      const wq = roundTripWeight(node, w.data as Float32Array, w.shape, plan, format, a.transposeB === true);
      const range = plan.ranges.get(node.inputs[0]!);
      const out = tf.tidy(() => {
        let x = values[2 * i]!;
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
      const y = (await values[2 * i + 1]!.data()) as Float32Array;
      const yq = (await out.data()) as Float32Array;
      out.dispose();
      let dot = 0;
      let ny = 0;
      let nq = 0;
      let noise = 0;
      for (let k = 0; k < y.length; k++) {
        dot += y[k]! * yq[k]!;
        ny += y[k]! * y[k]!;
        nq += yq[k]! * yq[k]!;
        noise += (y[k]! - yq[k]!) ** 2;
      }
      results.push({
        node: node.name,
        op: node.op,
        params: w.data.length,
        // Rounded to what they tell: cosine to 1e-9 (its distance from 1 is the signal), SQNR to 0.001 dB.
        cosine: ny === 0 && nq === 0 ? 1 : Number((dot / Math.sqrt(ny * nq)).toFixed(9)),
        sqnrDb: noise === 0 ? Infinity : Number((10 * Math.log10(ny / noise)).toFixed(3)),
      });
    }
  } finally {
    for (const t of new Set([...values, input])) t.dispose();
    exec.dispose();
  }
  return results;
}
