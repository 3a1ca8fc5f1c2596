import { DTYPES } from './dtype.js';
import { EdgelmError } from './../errors.js';
import type { Graph } from './graph.js';
import { inferTypes } from './infer.js';
import type { ValueType } from './op.js';
import { isOpType, opDef } from './registry.js';
import { sizeOf } from './tensor.js';

/**
 * Checks what every pass and writer relies on: known ops with valid arity and attribute names,
 * values defined once and before use, constant data matching its shape, and types that infer.
 * Throws an EdgelmError naming the first node (or tensor) at fault.
 */
export function verifyGraph(graph: Graph, file = graph.name): void {
  const fail = (what: string): never => {
    throw new EdgelmError('input', `${file}: verification failed: ${what}`);
  };
  const defined = new Set<string>();
  for (const i of graph.inputs) {
    if (defined.has(i.name)) fail(`input '${i.name}' declared twice`);
    defined.add(i.name);
  }
  for (const [name, t] of graph.constants) {
    if (t.name !== name) fail(`constant '${name}' is stored under another name '${t.name}'`);
    if (defined.has(name)) fail(`constant '${name}' has the name of another value`);
    const n = sizeOf(t.shape);
    if (!Number.isFinite(n)) fail(`constant '${name}' has an invalid shape [${t.shape}]`);
    if (t.data.length !== n) fail(`constant '${name}' holds ${t.data.length} elements, its shape [${t.shape}] needs ${n}`);
    if (!(t.data instanceof DTYPES[t.dtype].array)) fail(`constant '${name}' data does not match dtype ${t.dtype}`);
    defined.add(name);
  }
  graph.nodes.forEach((node, index) => {
    const at = `node ${index} '${node.name}' (${node.op})`;
    if (!isOpType(node.op)) fail(`${at}: unknown op`);
    const def = opDef(node.op);
    const given = node.inputs.length;
    if (given < def.arity[0] || given > def.arity[1]) fail(`${at}: ${given} inputs, expected ${def.arity[0]}..${def.arity[1]}`);
    for (const key of Object.keys(node.attrs)) if (!(key in def.attrs)) fail(`${at}: unknown attribute '${key}'`);
    node.inputs.forEach((name, j) => {
      if (!name) {
        if (j < def.arity[0]) fail(`${at}: required input ${j} is empty`);
      } else if (!defined.has(name)) fail(`${at}: input '${name}' is not defined before this node`);
    });
    for (const o of node.outputs) {
      if (defined.has(o)) fail(`${at}: output '${o}' is defined twice`);
      defined.add(o);
    }
  });
  for (const o of graph.outputs) if (!defined.has(o.name)) fail(`output '${o.name}' is never computed`);
  inferTypes(graph, file);
}

/**
 * The highest rank TF.js kernels and LiteRT compute correctly: beyond it some of their kernels give
 * wrong numbers without an error (rank-7 loss expansions), so those writers refuse instead.
 */
export const MAX_RANK = 6;

/** Refuses (unsupported) the first value of the graph whose rank exceeds `max`, naming it and its producer. */
export function requireRankAtMost(graph: Graph, file: string, where: string, types: ReadonlyMap<string, ValueType> = inferTypes(graph, file), max = MAX_RANK): void {
  const over = (name: string, by: string): void => {
    const rank = types.get(name)?.shape.length ?? 0;
    if (rank > max) throw new EdgelmError('unsupported', `${file}: ${by}: value '${name}' has rank ${rank}; ${where} handles rank ${max} at most`);
  };
  for (const i of graph.inputs) over(i.name, 'input');
  for (const name of graph.constants.keys()) over(name, 'constant');
  for (const n of graph.nodes) for (const o of n.outputs) if (o) over(o, `node ${n.name} (${n.op})`);
}
