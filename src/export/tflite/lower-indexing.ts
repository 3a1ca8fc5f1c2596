// TFLite lowerings of the ops of src/ir/ops/indexing.ts. Merged into TFLITE_LOWERINGS (lower.ts).
import type { OpType } from '../../ir/registry.js';
import { sizeOf } from '../../ir/tensor.js';
import type { Lowering } from './helpers.js';
import { OPTIONS } from './schema.js';

/** Row-major strides of a static shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) s[k] = s[k + 1]! * shape[k + 1]!;
  return s;
}

export const INDEXING_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  tile: (l, n, a) => {
    const out = n.outputs[0]!;
    const x = l.get(n.inputs[0]!);
    const t = l.activation(out, l.shapeOf(out), l.dtypeOf(out), x);
    l.emit('TILE', [x, l.int32Const(`${n.name}/multiples`, a.repeats as number[])], [t]);
    l.place(out, t);
  },
  // GATHER from the flattened data at flat positions: the element's own offset on every axis but
  // `axis` (a constant, shapes being static) plus its index, wrapped by FLOOR_MOD, times the axis stride.
  gatherElements: (l, n, a) => {
    const xShape = l.shapeOf(n.inputs[0]!);
    const idxShape = l.shapeOf(n.inputs[1]!);
    const rank = xShape.length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const xs = strides(xShape);
    const is = strides(idxShape);
    const count = sizeOf(idxShape);
    const base = new Int32Array(count);
    for (let e = 0; e < count; e++)
      for (let k = 0; k < rank; k++) if (k !== axis) base[e]! += (Math.floor(e / is[k]!) % idxShape[k]!) * xs[k]!;
    const out = n.outputs[0]!;
    const dim = xShape[axis]!;
    const idx = l.constant(n.inputs[1]!);
    let flat: number;
    if (idx) {
      const v = Array.from(idx.data as ArrayLike<number | bigint>, Number);
      flat = l.constTensor(`${n.name}/flat_index`, 'int32', idxShape, base.map((b, e) => b + (((v[e]! % dim) + dim) % dim) * xs[axis]!));
    } else {
      let i = l.get(n.inputs[1]!);
      if (l.dtypeOf(n.inputs[1]!) !== 'int32') {
        const c = l.activation(`${n.name}/index_int32`, idxShape, 'int32');
        l.emit('CAST', [i], [c], { type: OPTIONS.CastOptions, fields: [[0, 'i8', l.tensors[i]!.type], [1, 'i8', l.tensors[c]!.type]] });
        i = c;
      }
      const wrapped = l.activation(`${n.name}/index_wrapped`, idxShape, 'int32');
      l.emit('FLOOR_MOD', [i, l.int32Const(`${n.name}/dim`, [dim], [])], [wrapped]);
      const scaled = l.activation(`${n.name}/index_scaled`, idxShape, 'int32');
      l.emit('MUL', [wrapped, l.int32Const(`${n.name}/stride`, [xs[axis]!], [])], [scaled], { type: OPTIONS.MulOptions, fields: [[0, 'i8', 0]] });
      flat = l.activation(`${n.name}/flat_index`, idxShape, 'int32');
      l.emit('ADD', [scaled, l.constTensor(`${n.name}/offsets`, 'int32', idxShape, base)], [flat], { type: OPTIONS.AddOptions, fields: [[0, 'i8', 0]] });
    }
    const x = l.get(n.inputs[0]!);
    const size = sizeOf(xShape);
    const flatX = l.activation(`${n.name}/flat_data`, [size], l.dtypeOf(n.inputs[0]!), x);
    l.emit('RESHAPE', [x, l.int32Const(`${n.name}/flat_shape`, [size])], [flatX], { type: OPTIONS.ReshapeOptions, fields: [[0, 'i32[]', [size]]] });
    const t = l.activation(out, idxShape, l.dtypeOf(out), x);
    l.emit('GATHER', [flatX, flat], [t], { type: OPTIONS.GatherOptions, fields: [[0, 'i32', 0]] });
    l.place(out, t);
  },
};
