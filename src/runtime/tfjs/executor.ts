import { EdgelmError } from '../../errors.js';
import { decodeHalfs } from '../../ir/float16.js';
import type { Attrs, Graph, Node } from '../../ir/graph.js';
import { bindShape, evalDim, type Dim } from '../../ir/dim.js';
import { applyValueInputs, bindValueDims } from '../../ir/value-dims.js';
import type { Tf, TfTensor } from '../../ir/op.js';
import { tfDType } from '../../ir/ops/structure.js';
import { attrsOf, opDef } from '../../ir/registry.js';
import type { Tensor } from '../../ir/tensor.js';
import { requireRankAtMost } from '../../ir/verify.js';

/** A constant as a TF.js tensor: halfs widened, 64-bit integers narrowed to int32 (TF.js has no int64). */
export function toTfTensor(tf: Tf, t: Tensor): TfTensor {
  const dtype = tfDType(t.dtype);
  let data: Float32Array | Int32Array | Uint8Array;
  if (t.dtype === 'float16') data = decodeHalfs(t.data as Uint16Array);
  else if (t.data instanceof BigInt64Array) data = Int32Array.from(t.data, (v) => Number(BigInt.asIntN(32, v)));
  else if (dtype === 'float32') data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
  else if (dtype === 'int32') data = t.data instanceof Int32Array ? t.data : Int32Array.from(t.data as ArrayLike<number>);
  else data = t.data as Uint8Array;
  return tf.tensor(data, t.shape, dtype);
}

/**
 * Runs a Graph with TF.js: the reference every exported artifact is compared with.
 * Constants are uploaded once; call dispose() when done.
 */
export class GraphExecutor {
  private readonly constants = new Map<string, TfTensor>();

  constructor(
    private readonly tf: Tf,
    readonly graph: Graph,
  ) {
    requireRankAtMost(graph, graph.name, 'the TF.js executor');
    for (const [name, t] of graph.constants) this.constants.set(name, tf.keep(toTfTensor(tf, t)));
  }

  /**
   * Runs the graph on named inputs; returns the graph outputs in order, or the values named in `fetch`.
   * Returned tensors belong to the caller.
   */
  run(feeds: Record<string, TfTensor>, fetch: readonly string[] = this.graph.outputs.map((o) => o.name)): TfTensor[] {
    return this.tf.tidy(() => forward(this.tf, this.graph, this.constants, feeds, fetch));
  }

  /**
   * Runs the graph and shows `observe` each value named in `watch` once it is computed; values are
   * freed after their last reader, so memory holds the live activations only, not every one of them
   * (calibration of DenseNet-sized graphs). The callback must not keep the tensor.
   */
  observe(feeds: Record<string, TfTensor>, watch: ReadonlySet<string>, observe: (name: string, t: TfTensor) => void): void {
    this.tf.tidy(() => {
      forward(this.tf, this.graph, this.constants, feeds, this.graph.outputs.map((o) => o.name), { watch, observe });
    });
  }

  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }
}

/**
 * Runs the graph's nodes on `weights` (constants, or training variables) and `feeds`; returns the
 * values named in `fetch`. The caller owns the scope (tidy, or a gradient tape).
 */
export function forward(
  tf: Tf,
  graph: Graph,
  weights: ReadonlyMap<string, TfTensor>,
  feeds: Record<string, TfTensor>,
  fetch: readonly string[],
  observer?: { watch: ReadonlySet<string>; observe: (name: string, t: TfTensor) => void },
): TfTensor[] {
  const values = new Map<string, TfTensor>(weights);
  // Run-time dims take their sizes from the fed tensors' shapes.
  const dims = new Map<string, number>();
  for (const input of graph.inputs) {
    const t = feeds[input.name];
    if (!t) throw new EdgelmError('usage', `${graph.name}: no value given for input '${input.name}'`);
    // A mismatch with a static dim is left to the ops, which name the node.
    bindShape(input.shape, t.shape, dims);
    const want = tfDType(input.dtype);
    values.set(input.name, t.dtype === want ? t : tf.cast(t, want));
  }
  const needed = neededNodes(graph, fetch);
  // With an observer, intermediates are freed after their last reader (fetched values are kept).
  const lastUse = new Map<string, number>();
  if (observer) graph.nodes.forEach((n, i) => n.inputs.forEach((v) => v && lastUse.set(v, i)));
  const keep = new Set([...fetch, ...weights.keys(), ...graph.inputs.map((i) => i.name)]);
  const keptTensors = new Set([...keep].map((k) => values.get(k)).filter((t): t is TfTensor => t !== undefined));
  const holders = new Map<TfTensor, number>();
  for (const input of graph.inputs) if (observer?.watch.has(input.name)) observer.observe(input.name, values.get(input.name)!);
  for (const [index, node] of graph.nodes.entries()) {
    if (!needed.has(node)) continue;
    const ins = node.inputs.map((name) => {
      if (!name) return undefined;
      const v = values.get(name);
      if (!v) throw new EdgelmError('input', `${graph.name}: node ${node.name} (${node.op}) reads '${name}', which is not computed`);
      return v;
    });
    // Optional inputs ('' names) are dropped from the end only; ops see a dense list.
    while (ins.length && ins[ins.length - 1] === undefined) ins.pop();
    let outs: TfTensor[];
    const def = opDef(node.op);
    try {
      // A shape given as a run-time tensor (value inputs) is read here; the op runs as with a constant one.
      const given = applyValueInputs(tf, def, node, resolveDims(node, dims, graph.name), ins);
      outs = def.run(tf, given.ins as TfTensor[], given.attrs);
      bindValueDims(def, node, outs, dims);
    } catch (e) {
      if (e instanceof EdgelmError) throw e;
      throw new EdgelmError('input', `${graph.name}: node ${node.name} (${node.op}) failed: ${(e as Error).message.split('\n')[0]}`);
    }
    node.outputs.forEach((o, i) => {
      const t = outs[i];
      if (!t) return;
      values.set(o, t);
      holders.set(t, (holders.get(t) ?? 0) + 1);
      if (observer?.watch.has(o)) observer.observe(o, t);
    });
    if (observer)
      for (const v of new Set([...node.inputs, ...node.outputs])) {
        if (!v || keep.has(v) || (lastUse.get(v) ?? -1) > index) continue;
        const t = values.get(v);
        values.delete(v);
        if (!t) continue;
        // Identity-like ops may return their input tensor: freed when no live value holds it.
        const left = (holders.get(t) ?? 1) - 1;
        holders.set(t, left);
        if (left === 0 && !keptTensors.has(t)) t.dispose();
      }
  }
  return fetch.map((name) => {
    const v = values.get(name);
    if (!v) throw new EdgelmError('usage', `${graph.name}: no value named '${name}'`);
    return v;
  });
}

/** The node's attributes with their run-time dims evaluated (see OpDef.dimAttrs). */
function resolveDims(node: Node, dims: ReadonlyMap<string, number>, model: string): Attrs {
  const attrs = attrsOf(node);
  for (const k of opDef(node.op).dimAttrs ?? []) {
    const v = attrs[k];
    const one = (d: Dim): number => {
      const x = evalDim(d, dims);
      if (x === undefined) throw new EdgelmError('unsupported', `${model}: node ${node.name} (${node.op}): the run-time dim '${d}' is not known from the inputs' shapes`);
      return x;
    };
    if (Array.isArray(v)) attrs[k] = (v as Dim[]).map(one);
    else if (typeof v === 'string' || typeof v === 'number') attrs[k] = one(v);
  }
  return attrs;
}

/** The nodes that the fetched values depend on (all of them for the usual fetches). */
function neededNodes(graph: Graph, fetch: readonly string[]): Set<Node> {
  const want = new Set(fetch);
  const needed = new Set<Node>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => want.has(o))) continue;
    needed.add(n);
    for (const v of n.inputs) if (v) want.add(v);
  }
  return needed;
}
