import type { Dim, Tensor, ValueInfo } from './tensor.js';
import type { OpType } from './registry.js';
import { UnsupportedOpError } from '../errors.js';

/** Lists of Dims (sizes and run-time symbols) appear in the attrs an op lists as `dimAttrs`. */
export type AttrValue = number | string | boolean | number[] | string[] | Dim[];
export type Attrs = Record<string, AttrValue>;

/** One operation. Inputs and outputs are value names; an absent optional input is ''. */
export interface Node {
  name: string;
  op: OpType;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

/**
 * A model as edgelm sees it, whatever file it came from. Nodes are in topological order;
 * `constants` holds every weight and folded value by name.
 */
export interface Graph {
  name: string;
  /** Where it came from: 'tfjs-layers' | 'tfjs-graph' | 'onnx' | 'tflite' | ... */
  format: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  constants: Map<string, Tensor>;
  /** Free-form facts carried to writers (producer, vocabulary, ...). Keys sorted when written. */
  metadata: Record<string, string>;
}

/** Map from value name to the node producing it. */
export function producers(graph: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/** Map from value name to the nodes that read it. */
export function consumers(graph: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const i of n.inputs) {
      if (!i) continue;
      const list = m.get(i);
      if (list) list.push(n);
      else m.set(i, [n]);
    }
  return m;
}

/** Drops nodes and constants that no graph output depends on. */
export function pruneUnused(graph: Graph): Graph {
  const needed = new Set(graph.outputs.map((o) => o.name));
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const inp of n.inputs) if (inp) needed.add(inp);
  }
  keep.reverse();
  const constants = new Map([...graph.constants].filter(([name]) => needed.has(name)));
  return { ...graph, nodes: keep, constants };
}

/** Ops whose weight (input 1) quantization, pruning and channel surgery act on. */
const WEIGHT_OPS = new Set(['dense', 'conv2d', 'depthwiseConv2d', 'matMul']);

/** The layers with a float32 constant weight matrix or kernel, in graph order. */
export function weightLayers(graph: Graph): Node[] {
  return graph.nodes.filter((n) => {
    if (!WEIGHT_OPS.has(n.op)) return false;
    const w = graph.constants.get(n.inputs[1] ?? '');
    return w !== undefined && w.dtype === 'float32' && (n.op !== 'matMul' || w.shape.length === 2);
  });
}

/**
 * Refuses, in one error, every op of the graph that a writer has no entry for (each named with a
 * node that uses it); `table` is the writer's op → implementation map.
 */
export function requireOps(graph: Graph, file: string, writer: string, table: Partial<Record<string, unknown>>): void {
  const unsupported = new Map<string, string>();
  for (const n of graph.nodes) if (!table[n.op] && !unsupported.has(n.op)) unsupported.set(n.op, n.name);
  if (unsupported.size) throw new UnsupportedOpError(file, writer, unsupported, Object.keys(table));
}
