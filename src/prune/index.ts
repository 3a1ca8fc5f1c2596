// Magnitude pruning of a Graph's weight layers: masks per layer or global, N:M structured, and the
// fine-tuning schedule that re-applies them after every training step.
import { usageError } from '../errors.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import { attrsOf } from '../ir/registry.js';
import type { Tensor } from '../ir/tensor.js';
import { globalUnstructuredMasks, l1UnstructuredMask, nmMask } from './masks.js';

export type PrunePattern = { kind: 'unstructured' } | { kind: 'nm'; n: number; m: number } | { kind: 'channel' };

export interface PruneSpec {
  sparsity: number;
  scope: 'layer' | 'global';
  pattern: PrunePattern;
  exclude: (node: Node) => boolean;
}

export function parsePattern(s: string): PrunePattern {
  if (s === 'unstructured' || s === 'channel') return { kind: s };
  const m = /^(\d+):(\d+)$/.exec(s);
  if (m && Number(m[1]) >= 1 && Number(m[1]) < Number(m[2])) return { kind: 'nm', n: Number(m[1]), m: Number(m[2]) };
  throw usageError(`--pattern: expected unstructured, channel or N:M such as 2:4, got '${s}'`);
}

/** The reduction (input) axis of a layer's weight in IR layout, along which N:M groups run. */
export function reductionAxis(node: Node): number {
  if (node.op === 'dense') return 0; // [in, out]
  if (node.op === 'conv2d') return 2; // [kh, kw, in, out]
  if (node.op === 'matMul') return attrsOf(node).transposeB ? 1 : 0;
  return -1;
}

export function prunableLayers(graph: Graph, spec: Pick<PruneSpec, 'exclude' | 'pattern'>): Node[] {
  // A depthwise kernel has no input-channel axis to group along: N:M leaves it dense.
  return weightLayers(graph).filter((n) => !spec.exclude(n) && (spec.pattern.kind !== 'nm' || reductionAxis(n) >= 0));
}

/** Masks for the layers' weights at `sparsity` (unstructured or N:M), keyed by weight name. */
export function computeMasks(graph: Graph, layers: readonly Node[], spec: PruneSpec, sparsity = spec.sparsity, read: (name: string) => Float32Array = (n) => graph.constants.get(n)!.data as Float32Array): Map<string, Uint8Array> {
  const names = [...new Set(layers.map((l) => l.inputs[1]!))];
  const weights = names.map(read);
  const masks = new Map<string, Uint8Array>();
  const p = spec.pattern;
  if (p.kind === 'nm') {
    for (const l of layers) {
      const w = graph.constants.get(l.inputs[1]!)!;
      masks.set(l.inputs[1]!, nmMask(read(w.name), w.shape, reductionAxis(l), p.n, p.m, `${l.name} (${w.name})`));
    }
  } else if (spec.scope === 'global') globalUnstructuredMasks(weights, sparsity).forEach((m, i) => masks.set(names[i]!, m));
  else names.forEach((name, i) => masks.set(name, l1UnstructuredMask(weights[i]!, sparsity)));
  return masks;
}

/** A new graph whose masked weights are zero where the mask is 0. */
export function applyMasks(graph: Graph, masks: ReadonlyMap<string, Uint8Array>): Graph {
  const constants = new Map<string, Tensor>(graph.constants);
  for (const [name, mask] of masks) {
    const t = graph.constants.get(name)!;
    constants.set(name, { ...t, data: Float32Array.from(t.data as Float32Array, (v, i) => (mask[i] ? v : 0)) });
  }
  return { ...graph, constants };
}

export interface LayerSparsity {
  layer: string;
  weight: string;
  params: number;
  zeros: number;
  sparsity: number;
}

export function sparsityReport(graph: Graph, layers: readonly Node[]): { layers: LayerSparsity[]; total: number } {
  const rows = layers.map((l) => {
    const w = graph.constants.get(l.inputs[1]!)!;
    let zeros = 0;
    for (const v of w.data as Float32Array) if (v === 0) zeros++;
    return { layer: l.name, weight: w.name, params: w.data.length, zeros, sparsity: zeros / w.data.length };
  });
  const params = rows.reduce((s, r) => s + r.params, 0);
  return { layers: rows, total: params ? rows.reduce((s, r) => s + r.zeros, 0) / params : 0 };
}
