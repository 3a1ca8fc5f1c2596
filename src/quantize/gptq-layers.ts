// GPTQ over a model: the block-quantized MatMul/Gemm weights of a plan get codes from GPTQ (gptq.ts)
// against their inputs' H = 2XᵀX on calibration data (hessian.ts), layer by layer from the float
// model's activations. A weight whose calibration loss tr((W − Q)H(W − Q)ᵀ) GPTQ does not lower keeps
// round-to-nearest; the report says which, and by how much the loss fell.
import type { Dataset } from '../data/index.js';
import type { Graph, Node } from '../ir/graph.js';
import { EdgelmError } from '../errors.js';
import { attrsOf } from '../ir/registry.js';
import type { QuantParams } from '../ir/tensor.js';
import { calibrationLoss, gptq } from './gptq.js';
import { collectHessians, type HessianOptions } from './hessian.js';
import { quantizableLayers } from './layer-error.js';
import { dequantizeTensor } from './minmax.js';
import { planForWeight, quantizeBlockWeights, weightGranularity, type QuantPlan } from './plan.js';

export interface GptqSettings extends HessianOptions {
  /** Damping as a fraction of H's mean diagonal. */
  damp: number;
  actOrder: boolean;
}

export interface GptqLayer {
  /** The weight constant (shared weights are quantized once, for all their layers). */
  weight: string;
  nodes: string[];
  /** [N, K]: output features × reduction. */
  shape: [number, number];
  /** tr((W − Q)H(W − Q)ᵀ) with round-to-nearest codes and with GPTQ's. */
  rtnLoss: number;
  gptqLoss?: number;
  /** What the file stores for this weight. */
  method: 'gptq' | 'rtn';
  /** Why round-to-nearest was kept. */
  fallback?: string;
}

export interface GptqReport {
  method: 'gptq';
  damp: number;
  actOrder: boolean;
  /** Calibration samples run. */
  samples: number;
  layers: GptqLayer[];
  /** Σ over weights of the loss with round-to-nearest codes, and with the codes written. */
  rtnLoss: number;
  loss: number;
  /** 1 − loss / rtnLoss. */
  lossReduction: number;
  seconds: number;
}

export interface Target {
  weight: string;
  nodes: Node[];
  /** The layers' input values (one per node). */
  inputs: string[];
  /** The constant is stored [N, K] (a transposed matMul operand) rather than [K, N]. */
  rowsFirst: boolean;
  fallback?: string;
}

/** The weights the ONNX writer packs block-wise (MatMulNBits), grouped by constant. */
export function targets(graph: Graph, plan: QuantPlan): Target[] {
  const byWeight = new Map<string, Target>();
  for (const n of quantizableLayers(graph, plan)) {
    if ((n.op !== 'dense' && n.op !== 'matMul') || weightGranularity(plan, n.op, 'onnx') !== 'block') continue;
    const a = attrsOf(n);
    const rowsFirst = n.op === 'matMul' && a.transposeB === true;
    const w = n.inputs[1]!;
    const t = byWeight.get(w) ?? byWeight.set(w, { weight: w, nodes: [], inputs: [], rowsFirst }).get(w)!;
    t.nodes.push(n);
    t.inputs.push(n.inputs[0]!);
    if (n.op === 'matMul' && a.transposeA === true) t.fallback = `${n.name} reads its input transposed`;
    if (t.rowsFirst !== rowsFirst) t.fallback = `${w} is read both as [K, N] and as [N, K]`;
  }
  return [...byWeight.values()];
}

/**
 * Runs GPTQ for every block-quantized weight of `plan` and sets `plan.blockWeights` to the codes that
 * beat round-to-nearest on the calibration loss.
 */
export async function gptqPlan(graph: Graph, plan: QuantPlan, data: Dataset, opts: GptqSettings): Promise<GptqReport> {
  const started = performance.now();
  const list = targets(graph, plan);
  const dims = new Map<string, number>();
  for (const t of list) {
    const shape = graph.constants.get(t.weight)!.shape as [number, number];
    const k = t.rowsFirst ? shape[1] : shape[0];
    for (const v of t.inputs) dims.set(v, k);
  }
  const hessians = await collectHessians(graph, data, dims, opts);
  const samples = Math.min(data.shape[0]!, opts.limit ?? 1000);
  const chosen = new Map<string, { codes: Uint8Array; params: QuantParams }>();
  const layers: GptqLayer[] = [];
  for (const t of list) {
    const c = graph.constants.get(t.weight)!;
    const [r0, c0] = c.shape as [number, number];
    const [n, k] = t.rowsFirst ? [r0, c0] : [c0, r0];
    const data = c.data as Float32Array;
    const rows = t.rowsFirst ? data : Float32Array.from({ length: n * k }, (_, i) => data[(i % k) * n + Math.floor(i / k)]!);
    // Loss is additive over a shared weight's uses: their Hessians add.
    const h = new Float64Array(k * k);
    for (const v of new Set(t.inputs)) {
      const hv = hessians.get(v)!.h;
      const times = t.inputs.filter((x) => x === v).length;
      for (let i = 0; i < h.length; i++) h[i]! += times * hv[i]!;
    }
    const own = planForWeight(plan, t.weight); // its bits under mixed precision
    const rtn = quantizeBlockWeights(t.weight, rows, [n, k], own, 1);
    const rtnLoss = calibrationLoss(rows, dequantizeTensor(rtn.codes, [n, k], rtn.params), n, k, h);
    const layer: GptqLayer = { weight: t.weight, nodes: t.nodes.map((x) => x.name), shape: [n, k], rtnLoss, method: 'rtn' };
    layers.push(layer);
    if (t.fallback) {
      layer.fallback = t.fallback;
      continue;
    }
    let g;
    try {
      g = gptq(rows, n, k, h, { bits: own.bits, blockSize: plan.blockSize, damp: opts.damp, actOrder: opts.actOrder });
    } catch (e) {
      if (!(e instanceof EdgelmError)) throw e;
      layer.fallback = e.message.replace(/^GPTQ: /, '');
      continue;
    }
    layer.gptqLoss = calibrationLoss(rows, g.dequantized, n, k, h);
    if (!(layer.gptqLoss < rtnLoss)) {
      layer.fallback = 'GPTQ did not lower the calibration loss';
      continue;
    }
    layer.method = 'gptq';
    chosen.set(t.weight, { codes: g.codes, params: { scale: g.scale, zeroPoint: g.zeroPoint, bits: own.bits, axis: 1, blockSize: plan.blockSize } });
  }
  plan.blockWeights = chosen;
  const rtnLoss = layers.reduce((s, l) => s + l.rtnLoss, 0);
  const loss = layers.reduce((s, l) => s + (l.method === 'gptq' ? l.gptqLoss! : l.rtnLoss), 0);
  return {
    method: 'gptq',
    damp: opts.damp,
    actOrder: opts.actOrder,
    samples,
    layers,
    rtnLoss,
    loss,
    lossReduction: rtnLoss > 0 ? 1 - loss / rtnLoss : 0,
    seconds: (performance.now() - started) / 1000,
  };
}
