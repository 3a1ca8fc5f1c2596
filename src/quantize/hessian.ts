// GPTQ's layer statistics: H = 2·XᵀX of each weight layer's input over the calibration data, summed
// batch by batch as the float graph runs in TF.js (GraphExecutor.observe frees each activation after
// its last reader), so memory holds the live activations and one K×K float64 sum per weight.
import { batches, fitToModel, type Dataset } from '../data/index.js';
import { EdgelmError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { TfTensor } from '../ir/op.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';

export interface HessianOptions {
  /** Samples used at most. */
  limit?: number;
  batchSize?: number;
  backend?: Backend;
  onProgress?: (done: number, total: number) => void;
}

export interface LayerHessian {
  /** 2·Σ xᵀx over every input row (a row: the last axis of the layer's input). */
  h: Float64Array;
  /** Size of the reduction axis. */
  k: number;
  /** Input rows summed. */
  rows: number;
}

/**
 * H for each value in `inputs` (a layer input name → its reduction size K): the value's rows are its
 * last axis, as a dense or matMul layer with a constant weight reduces over it.
 */
export async function collectHessians(graph: Graph, data: Dataset, inputs: ReadonlyMap<string, number>, opts: HessianOptions = {}): Promise<Map<string, LayerHessian>> {
  const tf = await loadTf(opts.backend ?? 'wasm');
  const fitted = fitToModel(data, graph.inputs[0]?.shape);
  const n = Math.min(fitted.shape[0]!, opts.limit ?? 1000);
  const out = new Map<string, LayerHessian>([...inputs].map(([v, k]) => [v, { h: new Float64Array(k * k), k, rows: 0 }]));
  const exec = new GraphExecutor(tf, graph);
  const input = graph.inputs[0]!;
  try {
    for (const b of batches(fitted, opts.batchSize ?? 16)) {
      if (b.start >= n) break;
      const rows = Math.min(b.shape[0]!, n - b.start);
      const per = b.x.length / b.shape[0]!;
      const x = tf.tensor(b.x.subarray(0, rows * per), [rows, ...b.shape.slice(1)], b.x instanceof Int32Array ? 'int32' : 'float32');
      exec.observe({ [input.name]: x }, new Set(inputs.keys()), (name, t: TfTensor) => {
        const acc = out.get(name)!;
        if (t.shape[t.shape.length - 1] !== acc.k) throw new EdgelmError('input', `GPTQ: value '${name}' has ${t.shape[t.shape.length - 1]} features, its layer reduces over ${acc.k}`);
        // XᵀX of this batch in float32 (a few thousand rows), summed across batches in float64.
        const flat = tf.reshape(t, [-1, acc.k]);
        const xtx = tf.matMul(flat, flat, true, false);
        const d = xtx.dataSync();
        for (let i = 0; i < d.length; i++) acc.h[i]! += 2 * d[i]!;
        if (!Number.isFinite(acc.h[0]!)) throw new EdgelmError('input', `calibration: value '${name}' is NaN or infinite on the calibration data`);
        acc.rows += flat.shape[0]!;
        xtx.dispose();
        flat.dispose();
      });
      x.dispose();
      opts.onProgress?.(b.start + rows, n);
      await new Promise((resolve) => setImmediate(resolve)); // let signals through between batches
    }
  } finally {
    exec.dispose();
  }
  return out;
}
