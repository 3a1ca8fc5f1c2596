// AWQ over a model: the block-quantized MatMul/Gemm weights of a plan are grouped by the value they
// read (q/k/v sharing a norm's output search one s together); for each group whose input can be
// divided per channel with no new op (awq-fold.ts), α is searched on calibration statistics of the
// float model (mean |x| per channel and H = 2XᵀX, K + K² numbers per input, over every row), and the
// scales are folded into the returned graph. Then each weight's blocks may clip their range where
// that lowers the loss. A group keeps s = 1 where nothing can absorb the scale or no α lowers the
// loss; a weight whose blocks are not clipped either keeps round-to-nearest. The report says which and why.
import type { Dataset } from '../data/index.js';
import type { Graph, Node } from '../ir/graph.js';
import { inferTypes } from '../ir/infer.js';
import type { QuantParams } from '../ir/tensor.js';
import { awqSearch, clipSearch, scaledQuantized, type AwqWeight } from './awq.js';
import { applyScales, findFold, type FoldSite } from './awq-fold.js';
import type { ObserveOptions } from './calibrate.js';
import { calibrationLoss } from './gptq.js';
import { targets, type Target } from './gptq-layers.js';
import { collectHessians } from './hessian.js';
import { dequantizeTensor } from './minmax.js';
import { planForWeight, quantizeBlockWeights, type QuantPlan } from './plan.js';

export type AwqSettings = ObserveOptions;

export interface AwqLayer {
  weight: string;
  nodes: string[];
  /** [N, K]: output features × reduction. */
  shape: [number, number];
  /** The value the weight reads (its group: weights reading the same value share one s). */
  input: string;
  /** tr(ΔW·H·ΔWᵀ) on the calibration inputs with round-to-nearest, and with what the file stores. */
  rtnLoss: number;
  awqLoss: number;
  /** The group's exponent (0: no scales). */
  alpha: number;
  /** The node whose constants absorbed diag(s)⁻¹. */
  foldedInto?: string;
  /** Why the input is not scaled (no op to fold into, or no α lowered the loss). */
  unscaled?: string;
  /** Blocks whose range was clipped. */
  clippedBlocks: number;
  blocks: number;
  method: 'awq' | 'rtn';
  /** Why the file keeps round-to-nearest. */
  fallback?: string;
}

export interface AwqReport {
  method: 'awq';
  /** Calibration samples run. */
  samples: number;
  layers: AwqLayer[];
  /** Σ over weights of the loss with round-to-nearest, and with what is written. */
  rtnLoss: number;
  loss: number;
  lossReduction: number;
  seconds: number;
}

/** The weight as [N, K] rows. */
function rowsOf(graph: Graph, t: Target): AwqWeight & { k: number } {
  const c = graph.constants.get(t.weight)!;
  const [r0, c0] = c.shape as [number, number];
  const [n, k] = t.rowsFirst ? [r0, c0] : [c0, r0];
  const d = c.data as Float32Array;
  return { rows: t.rowsFirst ? d : Float32Array.from({ length: n * k }, (_, i) => d[(i % k) * n + Math.floor(i / k)]!), n, k };
}

/** Dequantized [N, K] codes mapped back to the source weight's terms: ÷ s along K, × what a fold divided each output column by. */
const original = (deq: Float32Array, k: number, s: Float32Array, colDiv: Float32Array): Float32Array => Float32Array.from(deq, (v, i) => (v / s[i % k]!) * colDiv[Math.floor(i / k)]!);

/**
 * Runs AWQ for every block-quantized weight of `plan`: returns the graph with the chosen scales
 * folded in (the source graph is not changed) and sets `plan.blockWeights` to the clipped codes that
 * beat plain rounding of the scaled weights.
 */
export async function awqPlan(graph: Graph, plan: QuantPlan, data: Dataset, opts: AwqSettings = {}): Promise<{ graph: Graph; report: AwqReport }> {
  const started = performance.now();
  const types = inferTypes(graph);
  const list = targets(graph, plan);
  const groups = new Map<string, { targets: Target[]; site?: FoldSite; unscaled?: string; s?: Float32Array; alpha: number }>();
  for (const t of list) {
    const input = t.inputs[0]!;
    const g = groups.get(input) ?? groups.set(input, { targets: [], alpha: 0 }).get(input)!;
    g.targets.push(t);
    if (t.fallback) g.unscaled ??= t.fallback;
    else if (new Set(t.inputs).size > 1) g.unscaled ??= `${t.weight} is read by layers with different inputs (${[...new Set(t.inputs)].join(', ')})`;
  }
  for (const [x, g] of groups) {
    if (g.unscaled) continue;
    if (g.targets.some((t) => planForWeight(plan, t.weight).bits !== planForWeight(plan, g.targets[0]!.weight).bits)) {
      g.unscaled = 'the weights reading it have different bits';
      continue;
    }
    const f = findFold(graph, x, new Set<Node>(g.targets.flatMap((t) => t.nodes)), types);
    if ('site' in f) g.site = f.site;
    else g.unscaled = `no op before it can take the scales: ${f.reason}`;
  }
  const valid = list.filter((t) => !t.fallback);
  const stats = await collectHessians(graph, data, new Map(valid.flatMap((t) => t.inputs.map((v) => [v, rowsOf(graph, t).k] as const))), { ...opts, absSum: true });
  const folds: { site: FoldSite; weights: { name: string; rowsFirst: boolean }[]; s: Float32Array }[] = [];
  for (const [x, g] of groups) {
    if (!g.site) continue;
    const st = stats.get(x)!;
    const meanAbs = Float64Array.from(st.absSum!, (v) => v / Math.max(1, st.rows));
    const weights = g.targets.map((t) => rowsOf(graph, t));
    const r = awqSearch(weights, weights[0]!.k, meanAbs, st.h, planForWeight(plan, g.targets[0]!.weight));
    if (r.alpha === 0) {
      g.unscaled = 'no α lowered the calibration loss';
      continue;
    }
    g.s = r.scales;
    g.alpha = r.alpha;
    folds.push({ site: g.site, weights: g.targets.map((t) => ({ name: t.weight, rowsFirst: t.rowsFirst })), s: r.scales });
  }
  const scaled = folds.length ? applyScales(graph, folds) : graph;
  // What each fold divided a weight's output columns by (a linear source's columns).
  const colDiv = new Map<string, Float32Array>();
  for (const f of folds)
    for (const e of f.site.edits) {
      const t = list.find((q) => q.weight === e.constant);
      if (!t) continue;
      const { n, k } = rowsOf(graph, t);
      const div = colDiv.get(t.weight) ?? colDiv.set(t.weight, new Float32Array(n).fill(1)).get(t.weight)!;
      for (let i = 0; i < e.index.length; i++) div[t.rowsFirst ? Math.floor(e.index[i]! / k) : e.index[i]! % n] = f.s[e.channel[i]!]!;
    }
  const chosen = new Map<string, { codes: Uint8Array; params: QuantParams }>();
  const layers: AwqLayer[] = [];
  for (const t of list) {
    const g = groups.get(t.inputs[0]!)!;
    const src = rowsOf(graph, t);
    const { n, k } = src;
    const layer: AwqLayer = { weight: t.weight, nodes: t.nodes.map((q) => q.name), shape: [n, k], input: t.inputs[0]!, rtnLoss: NaN, awqLoss: NaN, alpha: g.alpha, clippedBlocks: 0, blocks: n * Math.ceil(k / plan.blockSize), method: 'rtn' };
    layers.push(layer);
    if (g.unscaled) layer.unscaled = g.unscaled;
    if (t.fallback) {
      layer.fallback = t.fallback;
      continue;
    }
    const own = planForWeight(plan, t.weight);
    const h = t.inputs.length === 1 ? stats.get(t.inputs[0]!)!.h : stats.get(t.inputs[0]!)!.h.map((_, i) => t.inputs.reduce((sum, v) => sum + stats.get(v)!.h[i]!, 0));
    const ones = new Float32Array(k).fill(1);
    layer.rtnLoss = calibrationLoss(src.rows, scaledQuantized(src, k, ones, own), n, k, h);
    const s = g.s ?? ones;
    const div = colDiv.get(t.weight) ?? new Float32Array(n).fill(1);
    const final = rowsOf(scaled, t).rows;
    const rtn = quantizeBlockWeights(t.weight, final, [n, k], own, 1);
    const rounded = calibrationLoss(src.rows, original(dequantizeTensor(rtn.codes, [n, k], rtn.params), k, s, div), n, k, h);
    const clip = clipSearch(final, n, k, s, h, own.bits, plan.blockSize);
    const clipped = calibrationLoss(src.rows, original(clip.dequantized, k, s, div), n, k, h);
    layer.awqLoss = Math.min(rounded, clipped);
    if (clipped < rounded) {
      layer.clippedBlocks = clip.ratio.reduce((m, r) => m + (r < 1 ? 1 : 0), 0);
      chosen.set(t.weight, { codes: clip.codes, params: { scale: clip.scale, zeroPoint: clip.zeroPoint, bits: own.bits, axis: 1, blockSize: plan.blockSize } });
    }
    if (g.s) {
      layer.method = 'awq';
      layer.foldedInto = g.site!.source;
    } else if (layer.clippedBlocks) layer.method = 'awq';
    else layer.fallback = `${g.unscaled}; clipping did not lower it either`;
  }
  plan.blockWeights = chosen;
  const rtnLoss = layers.reduce((sum, l) => sum + (Number.isNaN(l.rtnLoss) ? 0 : l.rtnLoss), 0);
  const loss = layers.reduce((sum, l) => sum + (Number.isNaN(l.awqLoss) ? 0 : l.awqLoss), 0);
  return {
    graph: scaled,
    report: {
      method: 'awq',
      samples: Math.min(data.shape[0]!, opts.limit ?? 1000),
      layers,
      rtnLoss,
      loss,
      lossReduction: rtnLoss > 0 ? 1 - loss / rtnLoss : 0,
      seconds: (performance.now() - started) / 1000,
    },
  };
}
