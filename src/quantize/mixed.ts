// Mixed precision by sensitivity (--target-bits B): each block weight's effect on the output
// distribution is measured alone — the model written as ONNX with only that weight at --bits (the rest
// float) and run in onnxruntime on the calibration windows, KL divergence of its next-token
// distributions to the float file's — and the most sensitive weights are kept at 8 bits while the
// average bits per weight stays within B. Bits are counted as the file stores them: packed codes
// (blocks padded to MatMulNBits' block_size), a float32 scale and a packed zero point per block. The LM
// head (the weight layers nearest the outputs, or a weight an embedding gathers from) stays 8-bit
// unless asked: a low-bit head is a known cause of broken generation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../data/index.js';
import { blockAttr } from '../export/onnx/nbits.js';
import { exportFiles } from '../export/index.js';
import { writeAtomic } from '../export/write.js';
import { usageError } from '../errors.js';
import { producers, type Graph, type Node } from '../ir/graph.js';
import { attrsOf } from '../ir/registry.js';
import { evaluate, type EvalResult } from '../report/eval.js';
import { quantizableLayers } from './layer-error.js';
import { weightGranularity, type QuantPlan } from './plan.js';

export interface MixedLayer {
  /** The weight constant (a shared weight is one choice for all its layers). */
  weight: string;
  nodes: string[];
  /** [N, K]: output features × reduction. */
  shape: [number, number];
  params: number;
  /** Mean KL divergence (nats) of the calibration windows' next-token distributions with this weight alone at --bits; undefined for a head kept at 8. */
  kld?: number;
  bits: number;
  /** Why it is at 8 bits: measured sensitivity, or the head rule. */
  reason?: 'sensitive' | 'head';
}

export interface MixedReport {
  targetBits: number;
  /** Average stored bits per weight (codes, scales, zero points) over the block weights. */
  averageBits: number;
  /** The average with every weight (but the head) at --bits, and with every weight at 8. */
  lowestBits: number;
  highestBits: number;
  /** Calibration windows measured. */
  samples: number;
  layers: MixedLayer[];
  seconds: number;
}

export interface MixedOptions {
  targetBits: number;
  /** Calibration windows used at most. */
  limit: number;
  /** Let the LM head go to --bits like any other weight. */
  lowBitHead?: boolean;
}

/** Stored bits of an [n, k] weight at `bits` in blocks of `bs` (MatMulNBits layout: codes, float32 scales, packed zero points). */
export function storedBits(n: number, k: number, bits: number, bs: number): number {
  const kBlocks = Math.ceil(k / bs);
  const codes = n * kBlocks * ((blockAttr(bs, k) * bits) / 8);
  return 8 * (codes + 4 * n * kBlocks + n * Math.ceil((kBlocks * bits) / 8));
}

interface Target {
  weight: string;
  nodes: Node[];
  n: number;
  k: number;
  head: boolean;
}

/** Weight constants the ONNX writer packs block-wise, with their [N, K] and whether they are the head. */
function targets(graph: Graph, plan: QuantPlan): Target[] {
  const heads = headWeights(graph);
  const byWeight = new Map<string, Target>();
  for (const node of quantizableLayers(graph, plan)) {
    if ((node.op !== 'dense' && node.op !== 'matMul') || weightGranularity(plan, node.op, 'onnx') !== 'block') continue;
    const w = node.inputs[1]!;
    const [r, c] = graph.constants.get(w)!.shape as [number, number];
    const rowsFirst = node.op === 'matMul' && attrsOf(node).transposeB === true;
    const t = byWeight.get(w) ?? byWeight.set(w, { weight: w, nodes: [], n: rowsFirst ? r : c, k: rowsFirst ? c : r, head: heads.has(w) }).get(w)!;
    t.nodes.push(node);
  }
  return [...byWeight.values()];
}

/** The head: weights of the weight layers reached first walking back from the outputs, and any weight an embedding gathers from (tied). */
function headWeights(graph: Graph): Set<string> {
  const made = producers(graph);
  const heads = new Set<string>();
  const seen = new Set<string>();
  const stack = graph.outputs.map((o) => o.name);
  while (stack.length) {
    const v = stack.pop()!;
    const node = made.get(v);
    if (!node || seen.has(node.name)) continue;
    seen.add(node.name);
    if ((node.op === 'dense' || node.op === 'matMul') && graph.constants.has(node.inputs[1] ?? '')) heads.add(node.inputs[1]!);
    else stack.push(...node.inputs);
  }
  for (const node of graph.nodes) if (node.op === 'gather' && graph.constants.has(node.inputs[0] ?? '')) heads.add(node.inputs[0]!); // tied embeddings share this constant
  return heads;
}

/** The first `limit` samples (windows) of a dataset. */
function firstSamples(data: Dataset, limit: number): Dataset {
  const n = data.shape[0]!;
  const keep = Math.min(n, limit);
  if (keep === n) return data;
  const per = data.x.length / n;
  const k = data.y ? data.y.length / n : 0;
  return { ...data, x: data.x.subarray(0, keep * per), shape: [keep, ...data.shape.slice(1)], ...(data.y ? { y: data.y.subarray(0, keep * k) } : {}) };
}

/** Sets `plan.weightBits` to 8 for the chosen weights (the others stay at plan.bits) and says why. */
export async function mixedPrecision(graph: Graph, plan: QuantPlan, calibration: Dataset, opts: MixedOptions): Promise<MixedReport> {
  const started = performance.now();
  const list = targets(graph, plan);
  if (!list.length) throw usageError('--target-bits: the model has no MatMul/Gemm weight written block-wise to choose bits for');
  const bs = plan.blockSize;
  const params = list.reduce((s, t) => s + t.n * t.k, 0);
  const average = (bitsOf: (t: Target) => number): number => list.reduce((s, t) => s + storedBits(t.n, t.k, bitsOf(t), bs), 0) / params;
  const head = (t: Target): boolean => t.head && !opts.lowBitHead;
  const lowestBits = average((t) => (head(t) ? 8 : plan.bits));
  const highestBits = average(() => 8);
  const round = (v: number): number => Number(v.toFixed(4));
  if (opts.targetBits < lowestBits) throw usageError(`--target-bits ${opts.targetBits} is below the smallest average this model can store: ${round(lowestBits)} bits per weight with every weight at --bits ${plan.bits} in blocks of ${bs}${list.some(head) ? ' and the head at 8 (--low-bit-head lets it go lower)' : ''}`);
  const data = firstSamples(calibration, opts.limit);
  const k = data.y ? data.y.length / data.shape[0]! : 1;
  if (k <= 1) throw usageError(`--target-bits measures the KL divergence of next-token distributions: ${calibration.source} needs a label per position (language-model text)`);

  const dir = mkdtempSync(join(tmpdir(), 'edgelm-mixed-'));
  try {
    const run = async (name: string, quant: QuantPlan | undefined, reference?: EvalResult): Promise<EvalResult> => {
      const files = await exportFiles(graph, 'onnx', join(dir, `${name}.onnx`), quant ? { quant } : {});
      for (const f of files) writeAtomic(f.path, f.bytes);
      return evaluate(files[0]!.path, data, { latencyRuns: 0, ...(reference ? { reference } : {}) });
    };
    const float = await run('float', undefined);
    if (!float.raw) throw usageError(`--target-bits: the float model's outputs on ${data.shape[0]} calibration windows are too large to keep; lower --calibration-limit`);
    const layers: MixedLayer[] = [];
    for (const [i, t] of list.entries()) {
      const layer: MixedLayer = { weight: t.weight, nodes: t.nodes.map((x) => x.name), shape: [t.n, t.k], params: t.n * t.k, bits: plan.bits };
      layers.push(layer);
      if (head(t)) {
        Object.assign(layer, { bits: 8, reason: 'head' });
        continue;
      }
      // Only this weight quantized: every other node kept float.
      const alone = new Set(t.nodes);
      const r = await run(`layer-${i}`, { ...plan, exclude: (node: Node) => plan.exclude(node) || !alone.has(node) }, float);
      layer.kld = r.klDivergence!;
    }
    // Most sensitive first, each kept at 8 bits when the average still fits the target.
    const bits = new Map(list.map((t, i) => [t, layers[i]!.bits]));
    const order = list.map((t, i) => [t, layers[i]!] as const).filter(([, l]) => l.kld !== undefined).sort((a, b) => b[1].kld! - a[1].kld!);
    for (const [t, l] of order) {
      bits.set(t, 8);
      if (average((x) => bits.get(x)!) <= opts.targetBits + 1e-9) Object.assign(l, { bits: 8, reason: 'sensitive' });
      else bits.set(t, plan.bits);
    }
    plan.weightBits = new Map(list.map((t) => [t.weight, bits.get(t)!]));
    return {
      targetBits: opts.targetBits,
      averageBits: round(average((x) => bits.get(x)!)),
      lowestBits: round(lowestBits),
      highestBits: round(highestBits),
      samples: data.shape[0]!,
      layers,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
