// Folds an inference batch norm into the convolution or dense layer that feeds it:
//   y = (conv(x, w) + b − mean)·k + offset,  k = gamma/sqrt(var + ε)
//     = conv(x, w·k) + (b − mean)·k + offset.
// Quantizers need this: the folded weights are what gets quantized, and an int8 kernel has no
// place for a separate per-channel multiply.
import type { Graph, Node } from '../graph.js';
import { consumers, producers } from '../graph.js';
import type { Tensor } from '../tensor.js';

const FOLDABLE = new Set(['conv2d', 'depthwiseConv2d', 'dense']);

/** Output channels of a foldable op's weight; in every IR layout the channel is the fastest axis (HWIO, [kh,kw,C,M] flat C·M, [in,out]). */
function outChannels(op: string, w: Tensor): number {
  const s = w.shape;
  return op === 'depthwiseConv2d' ? s[2]! * s[3]! : s[s.length - 1]!;
}

function channelAxisOk(producer: Node, bn: Node, rank: number): boolean {
  const axis = (bn.attrs.axis as number | undefined) ?? -1;
  const a = axis < 0 ? axis + rank : axis;
  if (producer.op === 'dense') return a === rank - 1;
  return a === (producer.attrs.layout === 'NCHW' ? 1 : 3);
}

/**
 * Decides one fold from the producer's weights before and after: folding scales output channel c of
 * `weights` by `k[c]`. Writers whose weight quantization is coarse (one scale per tensor) use it to keep
 * a batch norm whose per-channel factors would make the folded kernel quantize badly.
 */
export type FoldChoice = (weights: Tensor, k: Float32Array, folded: Float32Array) => boolean;

/** Returns a new graph with every foldable batch norm merged into its producer; the input graph is unchanged. */
export function foldBatchNorm(graph: Graph, choose?: FoldChoice): Graph {
  const made = producers(graph);
  const users = consumers(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const constants = new Map(graph.constants);
  const replaced = new Map<Node, Node>();
  const dropped = new Set<Node>();
  for (const bn of graph.nodes) {
    if (bn.op !== 'batchNorm') continue;
    const p = made.get(bn.inputs[0]!);
    if (!p || !FOLDABLE.has(p.op) || dropped.has(p) || replaced.has(p)) continue;
    if (outputs.has(p.outputs[0]!) || (users.get(p.outputs[0]!) ?? []).length !== 1) continue;
    const w = constants.get(p.inputs[1]!);
    const stats = [1, 2, 3, 4].map((i) => constants.get(bn.inputs[i]!));
    if (!w || w.dtype !== 'float32' || stats.some((t) => !t || t.dtype !== 'float32')) continue;
    const rank = p.op === 'dense' ? 2 : 4;
    if (!channelAxisOk(p, bn, rank)) continue;
    const [gamma, beta, mean, variance] = stats as [Tensor, Tensor, Tensor, Tensor];
    const c = outChannels(p.op, w);
    if (gamma.data.length !== c) continue;
    const eps = (bn.attrs.epsilon as number | undefined) ?? 1e-3;
    const k = Float32Array.from({ length: c }, (_, i) => (gamma.data[i] as number) / Math.sqrt((variance.data[i] as number) + eps));
    const wData = w.data as Float32Array;
    const folded = Float32Array.from(wData, (v, i) => v * k[i % c]!);
    if (choose && !choose(w, k, folded)) continue;
    const oldBias = p.inputs[2] ? constants.get(p.inputs[2]) : undefined;
    if (p.inputs[2] && !oldBias) continue;
    const bias = Float32Array.from({ length: c }, (_, i) => ((oldBias ? (oldBias.data[i] as number) : 0) - (mean.data[i] as number)) * k[i]! + (beta.data[i] as number));
    const wName = `${p.inputs[1]}/bn_folded`;
    const bName = `${bn.name}/bn_folded_bias`;
    constants.set(wName, { name: wName, dtype: 'float32', shape: [...w.shape], data: folded });
    constants.set(bName, { name: bName, dtype: 'float32', shape: [c], data: bias });
    replaced.set(p, { ...p, inputs: [p.inputs[0]!, wName, bName], outputs: [bn.outputs[0]!] });
    dropped.add(bn);
  }
  if (!dropped.size) return graph;
  const nodes = graph.nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
  const needed = new Set(nodes.flatMap((n) => n.inputs));
  for (const name of [...constants.keys()]) if (!needed.has(name) && !outputs.has(name)) constants.delete(name);
  return { ...graph, nodes, constants };
}
