// TFLite lowering of topK (src/ir/ops/sort.ts). Merged into TFLITE_LOWERINGS (lower.ts).
import type { OpType } from '../../ir/registry.js';
import { opts, type Lowering } from './helpers.js';
import { OPTIONS } from './schema.js';

/**
 * TOPK_V2 selects the largest along the last axis: another axis is moved there and back with
 * TRANSPOSE, and the smallest are the largest of the negation (NEG before and after, exact for
 * floats and int32).
 */
const topK: Lowering = (l, n, a) => {
  const shape = l.shapeOf(n.inputs[0]!);
  const rank = shape.length;
  const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
  const dtype = l.dtypeOf(n.inputs[0]!);
  const [outV, outI] = n.outputs as [string, string];
  const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis).concat(axis);
  const back = perm.map((_, i) => perm.indexOf(i));
  const last = axis === rank - 1;
  const movedShape = perm.map((d) => shape[d]!);
  const k = a.k as number;
  const selShape = [...movedShape.slice(0, -1), k];
  const unary = (op: 'NEG', x: number, s: number[], what: string): number => {
    const t = l.activation(`${n.name}/${what}`, s, dtype, x);
    l.emit(op, [x], [t], opts(OPTIONS.NegOptions));
    return t;
  };
  const transposed = (x: number, p: number[], s: number[], what: string, dt = dtype): number => {
    const t = l.activation(`${n.name}/${what}`, s, dt, x);
    l.emit('TRANSPOSE', [x, l.int32Const(`${n.name}/${what}_perm`, p)], [t], opts(OPTIONS.TransposeOptions));
    return t;
  };
  let x = l.get(n.inputs[0]!);
  if (!last) x = transposed(x, perm, movedShape, 'moved');
  if (!a.largest) x = unary('NEG', x, movedShape, 'negated');
  let v = l.activation(last && a.largest ? outV : `${n.name}/values`, selShape, dtype, x);
  let idx = l.activation(last ? outI : `${n.name}/indices`, selShape, l.dtypeOf(outI));
  l.emit('TOPK_V2', [x, l.int32Const(`${n.name}/k`, [k], [])], [v, idx], opts(OPTIONS.TopKV2Options));
  if (!a.largest) v = unary('NEG', v, selShape, 'values_neg');
  if (!last) {
    v = transposed(v, back, l.shapeOf(outV), 'values_back');
    idx = transposed(idx, back, l.shapeOf(outI), 'indices_back', l.dtypeOf(outI));
  }
  l.place(outV, v);
  l.place(outI, idx);
};

export const SORT_LOWERINGS: Partial<Record<OpType, Lowering>> = { topK };
