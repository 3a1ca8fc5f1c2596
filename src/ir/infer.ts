import { inferNode } from './value-dims.js';
import { EdgelmError } from '../errors.js';
import type { Graph } from './graph.js';
import { ShapeError, type ValueType } from './op.js';
import { attrsOf, opDef } from './registry.js';

/**
 * Shape and dtype of every value in the graph (inputs, constants, node outputs), by running each
 * op's shape inference in order. Errors name the node and op.
 */
export function inferTypes(graph: Graph, file = graph.name): Map<string, ValueType> {
  const types = new Map<string, ValueType>();
  for (const i of graph.inputs) types.set(i.name, { dtype: i.dtype, shape: [...i.shape] });
  for (const [name, t] of graph.constants) types.set(name, { dtype: t.dtype, shape: [...t.shape] });
  for (const node of graph.nodes) {
    const def = opDef(node.op);
    const ins: ValueType[] = [];
    for (const name of node.inputs) {
      if (!name) continue;
      const t = types.get(name);
      if (!t) throw new EdgelmError('input', `${file}: node ${node.name} (${node.op}) reads '${name}', which nothing defines before it`);
      ins.push(t);
    }
    let outs: ValueType[];
    try {
      outs = inferNode(def, ins, attrsOf(node), node);
    } catch (e) {
      if (e instanceof ShapeError) throw new EdgelmError('input', `${file}: node ${node.name} (${node.op}): ${e.message}`);
      throw e;
    }
    node.outputs.forEach((o, i) => {
      const t = outs[i];
      if (t) types.set(o, t);
    });
  }
  return types;
}
