// Shapes decided by run-time VALUES: a Reshape to a shape tensor the model is fed, a Pad by fed pads,
// a ConstantOfShape of a fed shape. Such an op takes the tensor as a "value input" (OpDef.valueInputs)
// in place of its attribute. Its output keeps a known rank (from the static length of the value
// tensor) and gets one fresh dim per axis, `valueDim(node, axis)`, an atom no input shape binds:
// the executor binds it from the computed tensor, the ONNX writer reads it with Shape(output), and
// writers with static shapes (TFLite) refuse the node.
import { EdgelmError } from '../errors.js';
import { atomName, type Dim } from './dim.js';
import type { Attrs, Graph, Node } from './graph.js';
import { opDef } from './registry.js';
import type { OpDef, Tf, TfTensor, ValueType } from './op.js';
import { ShapeError } from './op.js';

/**
 * The run-time dim of axis `axis` of output `output` of node `node` (unique names) whose shape
 * depends on run-time values (output 0 keeps the short name).
 */
export const valueDim = (node: string, axis: number, output = 0): Dim => `${atomName(node)}${output ? `_o${output}` : ''}_v${axis}`;

/** Whether the node takes any of its op's value inputs (then every output dim is a valueDim). */
export function hasValueInputs(def: Pick<OpDef, 'valueInputs'>, node: Pick<Node, 'inputs'>): boolean {
  return Object.keys(def.valueInputs?.inputs ?? {}).some((i) => !!node.inputs[Number(i)]);
}

/** The value inputs a node takes, as (input index, attribute it replaces). */
export function valueInputsOf(def: Pick<OpDef, 'valueInputs'>, node: Pick<Node, 'inputs'>): [number, string][] {
  return Object.entries(def.valueInputs?.inputs ?? {})
    .map(([i, a]): [number, string] => [Number(i), a])
    .filter(([i]) => !!node.inputs[i]);
}

/**
 * Shape inference for every op: the op's own, or for a node with value inputs, its rank and dtype
 * with a fresh dim per axis. `ins` holds the node's present inputs in order.
 */
export function inferNode(def: OpDef<Attrs>, ins: ValueType[], attrs: Attrs, node: Node): ValueType[] {
  if (!hasValueInputs(def, node)) return def.infer(ins, attrs, node);
  const v = def.valueInputs!;
  const lengths = valueInputsOf(def, node).map(([i]) => {
    // `ins` skips absent inputs: the value input's place among the present ones.
    const t = ins[node.inputs.slice(0, i).filter(Boolean).length];
    if (!t || t.shape.length > 1) throw new ShapeError(`value input ${i} must be a 1-D or 0-D tensor`);
    const n = t.shape.length ? t.shape[0]! : 1;
    if (typeof n !== 'number') throw new ShapeError(`value input ${i} has a run-time length '${n}'; the output's rank must be known`);
    return n;
  });
  const rank = v.rank(ins, attrs, lengths);
  const dtype = 'dtype' in def.attrs ? (attrs.dtype as ValueType['dtype']) : ins[0]!.dtype;
  const count = v.outputs?.(ins, attrs, lengths) ?? 1;
  return Array.from({ length: count }, (_, j) => ({ dtype, shape: Array.from({ length: rank }, (_, k) => valueDim(node.name, k, j)) }));
}

/** After the executor ran a node with value inputs: binds each output's value dims to its computed shape. */
export function bindValueDims(def: OpDef<Attrs>, node: Node, outs: readonly (TfTensor | undefined)[], dims: Map<string, number>): void {
  if (!hasValueInputs(def, node)) return;
  outs.forEach((t, j) => t?.shape.forEach((d, k) => dims.set(valueDim(node.name, k, j) as string, d)));
}

/**
 * For the executor: the node's attributes with each value input's elements in place of the attribute
 * it replaces (read with dataSync), and the inputs the op's `run` expects (the value inputs dropped).
 */
export function applyValueInputs(tf: Tf, def: OpDef<Attrs>, node: Node, attrs: Attrs, ins: (TfTensor | undefined)[]): { attrs: Attrs; ins: (TfTensor | undefined)[] } {
  const taken = valueInputsOf(def, node);
  if (!taken.length) return { attrs, ins };
  const out = { ...attrs };
  for (const [i, a] of taken) {
    const t = ins[i];
    if (!t) throw new EdgelmError('input', `node ${node.name} (${node.op}): value input ${i} is not computed`);
    const vals = Array.from(tf.cast(t, t.dtype === 'float32' ? 'float32' : 'int32').dataSync() as ArrayLike<number>);
    out[a] = typeof def.attrs[a] === 'number' || typeof def.attrs[a] === 'string' ? vals[0]! : vals;
  }
  const drop = new Set(taken.map(([i]) => i));
  const kept = ins.filter((_, i) => !drop.has(i));
  // Ops whose attributes follow from the values (a resize's sizes from its scales) complete them here.
  const resolve = def.valueInputs!.resolve;
  return { attrs: resolve ? resolve(out, kept.map((t) => t?.shape ?? []), node) : out, ins: kept };
}

/** Refuses (unsupported) the first node whose output shape depends on run-time values, for writers that cannot write one. */
export function requireStaticValues(graph: Graph, file: string, writer: string): void {
  for (const n of graph.nodes) {
    const def = opDef(n.op);
    const taken = valueInputsOf(def, n);
    if (taken.length)
      throw new EdgelmError('unsupported', `${file}: node ${n.name} (${n.op}): a run-time shape (${taken.map(([, a]) => a).join(', ')} given as run-time tensors) is not supported by ${writer}`);
  }
}
