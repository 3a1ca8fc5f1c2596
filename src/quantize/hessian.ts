// Layer statistics for GPTQ and AWQ: H = 2·XᵀX of each weight layer's input over the calibration data
// (and, for AWQ, Σ|x| per channel), summed
// batch by batch as the float graph runs in TF.js (observeBatches, calibrate.ts), so memory holds the
// live activations and one K×K float64 sum per weight.
import type { Dataset } from '../data/index.js';
import { EdgelmError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { TfTensor } from '../ir/op.js';
import { loadTf } from '../runtime/tfjs/backend.js';
import { observeBatches, type ObserveOptions } from './calibrate.js';

export interface HessianOptions extends ObserveOptions {
  /** Also sum |x| per channel (AWQ's activation statistic). */
  absSum?: boolean;
}

export interface LayerHessian {
  /** 2·Σ xᵀx over every input row (a row: the last axis of the layer's input). */
  h: Float64Array;
  /** Size of the reduction axis. */
  k: number;
  /** Input rows summed. */
  rows: number;
  /** Σ |x| per channel over the rows, with `absSum`. */
  absSum?: Float64Array;
}

/**
 * H for each value in `inputs` (a layer input name → its reduction size K): the value's rows are its
 * last axis, as a dense or matMul layer with a constant weight reduces over it.
 */
export async function collectHessians(graph: Graph, data: Dataset, inputs: ReadonlyMap<string, number>, opts: HessianOptions = {}): Promise<Map<string, LayerHessian>> {
  const tf = await loadTf(opts.backend ?? 'wasm');
  const out = new Map<string, LayerHessian>([...inputs].map(([v, k]) => [v, { h: new Float64Array(k * k), k, rows: 0, ...(opts.absSum ? { absSum: new Float64Array(k) } : {}) }]));
  await observeBatches(graph, data, new Set(inputs.keys()), { ...opts, batchSize: opts.batchSize ?? 16 }, () => {
    const local = new Map<string, { xtx: Float32Array; rows: number; abs?: Float32Array }>();
    return {
      observe: (name, t: TfTensor) => {
        const k = out.get(name)!.k;
        if (t.shape[t.shape.length - 1] !== k) throw new EdgelmError('input', `calibration: value '${name}' has ${t.shape[t.shape.length - 1]} features, its layer reduces over ${k}`);
        // XᵀX of this batch in float32 (a few thousand rows), summed across batches in float64.
        const flat = tf.reshape(t, [-1, k]);
        const xtx = tf.matMul(flat, flat, true, false);
        local.set(name, { xtx: xtx.dataSync() as Float32Array, rows: flat.shape[0]! });
        if (opts.absSum) {
          const abs = tf.sum(tf.abs(flat), 0);
          local.get(name)!.abs = abs.dataSync() as Float32Array;
          abs.dispose();
        }
        xtx.dispose();
        flat.dispose();
      },
      commit: () => {
        for (const [name, { xtx, rows, abs }] of local) {
          const acc = out.get(name)!;
          for (let i = 0; i < xtx.length; i++) acc.h[i]! += 2 * xtx[i]!;
          if (abs) for (let c = 0; c < acc.k; c++) acc.absSum![c]! += abs[c]!;
          if (!Number.isFinite(acc.h[0]!)) throw new EdgelmError('input', `calibration: value '${name}' is NaN or infinite on the calibration data`);
          acc.rows += rows;
        }
      },
    };
  });
  return out;
}
