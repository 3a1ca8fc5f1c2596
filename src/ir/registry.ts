// The one list of ops edgelm supports. Readers map foreign ops onto these; writers map these out.
import type { Attrs, Node } from './graph.js';
import type { OpDef } from './op.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { NN_OPS } from './ops/nn.js';
import { STRUCTURE_OPS } from './ops/structure.js';
import { REDUCE_OPS } from './ops/reduce.js';
import { ACTIVATION_OPS } from './ops/activations.js';
import { MATH_OPS } from './ops/math.js';
import { RESAMPLE_OPS } from './ops/resample.js';
import { INDEXING_OPS } from './ops/indexing.js';
import { SCATTER_OPS } from './ops/scatter.js';
import { SORT_OPS } from './ops/sort.js';

// One table per family (src/ir/ops/<family>.ts); a new op goes in its family's table, not here.
export const OPS = {
  ...ELEMENTWISE_OPS,
  ...NN_OPS,
  ...STRUCTURE_OPS,
  ...REDUCE_OPS,
  ...ACTIVATION_OPS,
  ...MATH_OPS,
  ...RESAMPLE_OPS,
  ...INDEXING_OPS,
  ...SCATTER_OPS,
  ...SORT_OPS,
} satisfies Record<string, Pick<OpDef, 'arity'> & { attrs: Attrs }>;

export type OpType = keyof typeof OPS;
export const OP_TYPES = Object.keys(OPS) as OpType[];

export const isOpType = (s: string): s is OpType => Object.hasOwn(OPS, s);

/** The op's definition, typed for generic callers (executor, shape inference). */
export function opDef(op: OpType): OpDef<Attrs> {
  return OPS[op] as unknown as OpDef<Attrs>;
}

/** A node's attributes with the op's defaults filled in. */
export function attrsOf(node: Node): Attrs {
  return { ...opDef(node.op).attrs, ...node.attrs };
}
