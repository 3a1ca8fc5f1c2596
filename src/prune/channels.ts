// Channel surgery: removes output channels of layers and the matching inputs of whatever reads them,
// giving a smaller dense model. Used by `prune --pattern channel` (channels chosen by L1 norm) and by
// `distill --student-width F` (the first ⌈F·C⌉ channels, then re-initialized). Handles chains of
// dense/conv/depthwise layers with activations, pooling, batch norm, padding, per-channel constants
// and flattening reshapes; anything else that reads a resized value is refused, naming the node.
import { EdgelmError, usageError } from '../errors.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { inferTypes } from '../ir/infer.js';
import { prng } from '../train/loop.js';

/** Kept channel indices of a value along its channel axis, or of a flattened [.., positions·C] value. */
interface Kept {
  channels: Int32Array;
  /** Original channel count. */
  of: number;
  /** Set once flattened: positions per channel and the layout the flatten read. */
  flat?: { positions: number; layout: 'NHWC' | 'NCHW' };
}

const PASS_THROUGH = new Set(['relu', 'relu6', 'sigmoid', 'tanh', 'clip', 'leakyRelu', 'elu', 'gelu', 'swish', 'softplus', 'identity', 'abs', 'neg', 'square', 'maxPool2d', 'avgPool2d']);

/** Original element indices along an axis that survive: for a flat axis, every (position, kept channel) pair. */
function survivors(k: Kept): Int32Array {
  if (!k.flat) return k.channels;
  const { positions, layout } = k.flat;
  const out = new Int32Array(positions * k.channels.length);
  let o = 0;
  if (layout === 'NHWC') for (let p = 0; p < positions; p++) for (const c of k.channels) out[o++] = p * k.of + c;
  else for (const c of k.channels) for (let p = 0; p < positions; p++) out[o++] = c * positions + p;
  return out;
}

/** Keeps `idx` along `axis` of a constant. */
function sliceAxis(t: Tensor, axis: number, idx: Int32Array): Tensor {
  const shape = [...t.shape];
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const dim = shape[axis]!;
  const src = t.data as Float32Array;
  const out = new Float32Array(outer * idx.length * inner);
  for (let a = 0; a < outer; a++)
    for (let j = 0; j < idx.length; j++) out.set(src.subarray((a * dim + idx[j]!) * inner, (a * dim + idx[j]! + 1) * inner), (a * idx.length + j) * inner);
  shape[axis] = idx.length;
  return { ...t, shape, data: out };
}

function channelAxis(node: Node, rank: number): number {
  return node.attrs.layout === 'NCHW' ? 1 : rank - 1;
}

/**
 * Removes channels: `keep` maps a layer name to the output channels it keeps (sorted). Returns a
 * new graph; the input graph is unchanged.
 */
export function resizeChannels(graph: Graph, keep: ReadonlyMap<string, Int32Array>): Graph {
  const types = inferTypes(graph, graph.name);
  const constants = new Map(graph.constants);
  const kept = new Map<string, Kept>();
  const refuse = (n: Node, why: string): never => {
    throw new EdgelmError('unsupported', `${graph.name}: cannot remove channels through node ${n.name} (${n.op}): ${why}`);
  };
  const setConst = (name: string, t: Tensor): string => {
    const fresh = `${name}/resized`;
    constants.set(fresh, { ...t, name: fresh });
    return fresh;
  };
  const nodes = graph.nodes.map((n): Node => {
    const inKept = n.inputs[0] ? kept.get(n.inputs[0]) : undefined;
    const others = n.inputs.slice(1).filter((v) => v && kept.has(v));
    const inputs = [...n.inputs];
    const out = n.outputs[0]!;
    if (n.op === 'dense' || n.op === 'conv2d') {
      if (others.length) refuse(n, 'its weights come from a resized value');
      let w = constants.get(n.inputs[1]!)!;
      const rank = w.shape.length;
      if (inKept) {
        if (n.op === 'conv2d' && (n.attrs.group ?? 1) !== 1) refuse(n, 'grouped convolution');
        if (n.op === 'conv2d' && inKept.flat) refuse(n, 'reads a flattened value');
        w = sliceAxis(w, rank - 2, survivors(inKept));
      }
      const k = keep.get(n.name);
      if (k) {
        w = sliceAxis(w, rank - 1, k);
        if (n.inputs[2]) inputs[2] = setConst(n.inputs[2], sliceAxis(constants.get(n.inputs[2])!, 0, k));
        kept.set(out, { channels: k, of: graph.constants.get(n.inputs[1]!)!.shape[rank - 1]! });
      }
      if (inKept || k) inputs[1] = setConst(n.inputs[1]!, w);
      return { ...n, inputs };
    }
    if (!inKept && !others.length) return n;
    if (inKept?.flat) refuse(n, 'reads a flattened resized value');
    if (n.op === 'depthwiseConv2d') {
      const w = constants.get(n.inputs[1]!)!;
      const [kh, kw, c, m] = w.shape as [number, number, number, number];
      inputs[1] = setConst(n.inputs[1]!, sliceAxis(w, 2, inKept!.channels));
      // Output channel c·M + j for every kept input channel c.
      const outIdx = Int32Array.from({ length: inKept!.channels.length * m }, (_, i) => inKept!.channels[Math.floor(i / m)]! * m + (i % m));
      if (n.inputs[2]) inputs[2] = setConst(n.inputs[2], sliceAxis(constants.get(n.inputs[2])!, 0, outIdx));
      void kh;
      void kw;
      kept.set(out, { channels: outIdx, of: c * m });
      return { ...n, inputs };
    }
    if (n.op === 'batchNorm') {
      for (let i = 1; i <= 4; i++) inputs[i] = setConst(n.inputs[i]!, sliceAxis(constants.get(n.inputs[i]!)!, 0, inKept!.channels));
      kept.set(out, inKept!);
      return { ...n, inputs };
    }
    if (PASS_THROUGH.has(n.op) || n.op === 'pad') {
      kept.set(out, inKept!);
      return n;
    }
    if (n.op === 'add' || n.op === 'sub' || n.op === 'mul' || n.op === 'div' || n.op === 'maximum' || n.op === 'minimum' || n.op === 'prelu') {
      const [a, b] = n.inputs as [string, string];
      const ka = kept.get(a);
      const kb = kept.get(b);
      if (ka && kb) {
        if (ka.channels.join() !== kb.channels.join()) refuse(n, 'its two operands keep different channels');
        kept.set(out, ka);
        return n;
      }
      const k = (ka ?? kb)!;
      const other = ka ? b : a;
      const c = constants.get(other);
      if (!c) refuse(n, 'mixes a resized value with a full-width run-time value');
      const rank = types.get(ka ? a : b)!.shape.length;
      const axis = channelAxis(n, rank) - (rank - c!.shape.length);
      if (c!.data.length > 1) {
        if (axis < 0 || c!.shape[axis] !== k.of) refuse(n, 'a constant operand that does not run along the channels');
        inputs[ka ? 1 : 0] = setConst(other, sliceAxis(c!, axis, k.channels));
      }
      kept.set(out, k);
      return { ...n, inputs };
    }
    if (n.op === 'reshape') {
      const inShape = types.get(n.inputs[0]!)!.shape;
      const outShape = types.get(out)!.shape;
      if (inShape.length !== 4 || outShape.length !== 2 || !inShape.slice(1).every((d) => typeof d === 'number')) refuse(n, 'only flattening [N, H, W, C] to [N, features] is supported');
      const layout = inShape[3] === inKept!.of ? 'NHWC' : 'NCHW';
      const [h, w, ch] = inShape.slice(1) as number[];
      const positions = (h! * w! * ch!) / inKept!.of;
      const shape = (n.attrs.shape as number[]).map((d, i) => (i === 1 && d > 0 ? positions * inKept!.channels.length : d));
      kept.set(out, { ...inKept!, flat: { positions, layout } });
      return { ...n, attrs: { ...n.attrs, shape } };
    }
    return refuse(n, 'this op is not supported by channel surgery');
  });
  for (const o of graph.outputs) if (kept.has(o.name)) throw usageError(`${graph.name}: resizing would change the model output '${o.name}'; --exclude its layer`);
  const g: Graph = { ...graph, nodes, constants };
  const used = new Set(nodes.flatMap((n) => n.inputs));
  for (const name of [...constants.keys()]) if (!used.has(name) && !graph.outputs.some((o) => o.name === name)) constants.delete(name);
  return g;
}

/** Layers whose outputs may shrink: every weight layer but the last (it produces the model output). */
function resizable(graph: Graph, exclude: (n: Node) => boolean): Node[] {
  const layers = weightLayers(graph).filter((n) => n.op === 'dense' || n.op === 'conv2d');
  return layers.slice(0, -1).filter((n) => !exclude(n));
}

/** Structured pruning: each resizable layer keeps its (1 − s)·C output channels of largest L1 norm. */
export function pruneChannels(graph: Graph, sparsity: number, exclude: (n: Node) => boolean): Graph {
  const keep = new Map<string, Int32Array>();
  for (const n of resizable(graph, exclude)) {
    const w = graph.constants.get(n.inputs[1]!)!;
    const c = w.shape[w.shape.length - 1]!;
    const norms = new Float64Array(c);
    (w.data as Float32Array).forEach((v, i) => (norms[i % c] = norms[i % c]! + Math.abs(v)));
    const count = Math.max(1, Math.round((1 - sparsity) * c));
    const order = Array.from({ length: c }, (_, i) => i).sort((a, b) => norms[b]! - norms[a]! || a - b);
    keep.set(n.name, Int32Array.from(order.slice(0, count)).sort());
  }
  return resizeChannels(graph, keep);
}

/** The teacher's topology with hidden widths scaled by `factor`, freshly initialized. */
export function scaleWidths(graph: Graph, factor: number, seed: number): Graph {
  if (!(factor > 0 && factor <= 1)) throw usageError(`--student-width: expected a factor in (0, 1], got ${factor}`);
  const keep = new Map<string, Int32Array>();
  for (const n of resizable(graph, () => false)) {
    const w = graph.constants.get(n.inputs[1]!)!;
    const c = w.shape[w.shape.length - 1]!;
    keep.set(n.name, Int32Array.from({ length: Math.max(1, Math.round(c * factor)) }, (_, i) => i));
  }
  // Transformers tie their widths through reshapes into heads and residual adds: nothing scales alone.
  if (!keep.size) throw usageError(`--student-width: ${graph.name} has no hidden layer whose width can change alone (a transformer's widths are tied by its heads and residuals); give a smaller --student MODEL`);
  return reinitialize(resizeChannels(graph, keep), seed);
}

/** Glorot-uniform kernels, zero biases, identity batch norms: a student trained from scratch. */
export function reinitialize(graph: Graph, seed: number): Graph {
  const rand = prng(seed);
  const constants = new Map(graph.constants);
  const set = (name: string, f: (i: number) => number): void => {
    const t = constants.get(name)!;
    constants.set(name, { ...t, data: Float32Array.from({ length: t.data.length }, (_, i) => f(i)) });
  };
  for (const n of graph.nodes) {
    if (n.op === 'dense' || n.op === 'conv2d' || n.op === 'depthwiseConv2d' || n.op === 'matMul') {
      const w = constants.get(n.inputs[1]!);
      if (!w || w.dtype !== 'float32') continue;
      const s = w.shape;
      const receptive = s.length === 4 ? s[0]! * s[1]! : 1;
      const [fanIn, fanOut] = n.op === 'depthwiseConv2d' ? [receptive, receptive * s[3]!] : [receptive * s[s.length - 2]!, receptive * s[s.length - 1]!];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      set(n.inputs[1]!, () => (rand() * 2 - 1) * limit);
      if (n.inputs[2] && constants.has(n.inputs[2])) set(n.inputs[2], () => 0);
    } else if (n.op === 'batchNorm') {
      set(n.inputs[1]!, () => 1);
      set(n.inputs[2]!, () => 0);
      set(n.inputs[3]!, () => 0);
      set(n.inputs[4]!, () => 1);
    } else if (n.op === 'layerNorm') {
      if (constants.has(n.inputs[1]!)) set(n.inputs[1]!, () => 1);
      if (n.inputs[2] && constants.has(n.inputs[2])) set(n.inputs[2], () => 0);
    } else if (n.op === 'gather') {
      // An embedding table [vocabulary, width]: Glorot-uniform like the kernels.
      const t = constants.get(n.inputs[0]!);
      if (!t || t.dtype !== 'float32' || t.shape.length !== 2) continue;
      const limit = Math.sqrt(6 / (t.shape[0]! + t.shape[1]!));
      set(n.inputs[0]!, () => (rand() * 2 - 1) * limit);
    }
  }
  return { ...graph, constants };
}
