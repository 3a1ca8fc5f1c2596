// TFLite lowerings of the reductions, the index reductions and the running sum (src/ir/ops/reduce.ts).
// Merged into TFLITE_LOWERINGS (lower.ts).
import type { OpType } from '../../ir/registry.js';
import { identity, opts, tflType, type Lowering } from './helpers.js';
import { OPTIONS, type BuiltinOp } from './schema.js';

const reducer = (op: BuiltinOp): Lowering => (l, n, a) => {
  const x = l.placement(n.inputs[0]!);
  const rank = x.perm.length;
  const axes = ((a.axes as number[]).length ? (a.axes as number[]) : identity(rank)).map((ax) => (ax < 0 ? ax + rank : ax));
  const physAxes = axes.map((ax) => x.perm.indexOf(ax)).sort((p, q) => p - q);
  const keep = a.keepDims === true;
  // Output order: the surviving physical dims, renumbered among the surviving logical dims.
  const survivors = x.perm.filter((d) => keep || !axes.includes(d));
  const logicalSurvivors = identity(rank).filter((d) => keep || !axes.includes(d));
  const perm = survivors.map((d) => logicalSurvivors.indexOf(d));
  const out = n.outputs[0]!;
  const logical = l.shapeOf(out);
  const t = l.activation(out, perm.map((d) => logical[d]!), l.dtypeOf(out));
  l.emit(op, [x.tensor, l.int32Const(`${n.name}/axes`, physAxes)], [t], opts(OPTIONS.ReducerOptions, [[0, 'bool', keep]]));
  l.place(out, t, perm);
};

const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** ARG_MAX / ARG_MIN in logical order; the last of equal values is the first along the reversed axis. */
const argReduce = (max: boolean): Lowering => (l, n, a) => {
  const shape = l.shapeOf(n.inputs[0]!);
  const axis = normAxis(a.axis as number, shape.length);
  const out = n.outputs[0]!;
  const dtype = l.dtypeOf(out);
  const axisConst = l.int32Const(`${n.name}/axis`, [axis]);
  let x = l.get(n.inputs[0]!);
  if (a.selectLastIndex) {
    const rev = l.activation(`${n.name}/reversed`, shape, l.dtypeOf(n.inputs[0]!), x);
    l.emit('REVERSE_V2', [x, axisConst], [rev], opts(OPTIONS.ReverseV2Options));
    x = rev;
  }
  const reduced = shape.filter((_, i) => i !== axis);
  let idx = l.activation(`${n.name}/index`, reduced, dtype);
  const options = max ? opts(OPTIONS.ArgMaxOptions, [[0, 'i8', tflType(dtype)]]) : opts(OPTIONS.ArgMinOptions, [[0, 'i8', tflType(dtype)]]);
  l.emit(max ? 'ARG_MAX' : 'ARG_MIN', [x, l.int32Const(`${n.name}/axis_scalar`, [axis], [])], [idx], options);
  if (a.selectLastIndex) {
    const last = l.activation(`${n.name}/last_index`, reduced, dtype);
    const n1 = l.constTensor(`${n.name}/n_minus_1`, dtype, [], dtype === 'int64' ? BigInt64Array.of(BigInt(shape[axis]! - 1)) : Int32Array.of(shape[axis]! - 1));
    l.emit('SUB', [n1, idx], [last], opts(OPTIONS.SubOptions, [[0, 'i8', 0]]));
    idx = last;
  }
  if (!a.keepDims) return l.place(out, idx);
  const kept = l.shapeOf(out);
  const t = l.activation(out, kept, dtype);
  l.emit('RESHAPE', [idx, l.int32Const(`${n.name}/kept_shape`, kept)], [t], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', kept]]));
  l.place(out, t);
};

export const REDUCE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  reduceMean: reducer('MEAN'),
  reduceSum: reducer('SUM'),
  reduceMax: reducer('REDUCE_MAX'),
  reduceMin: reducer('REDUCE_MIN'),
  reduceProd: reducer('REDUCE_PROD'),
  argMax: argReduce(true),
  argMin: argReduce(false),
  cumSum: (l, n, a) => {
    // CUMSUM on the value as placed: the axis moves with the layout.
    const x = l.placement(n.inputs[0]!);
    const axis = x.perm.indexOf(normAxis(a.axis as number, x.perm.length));
    const out = n.outputs[0]!;
    const t = l.activation(out, x.perm.map((d) => l.shapeOf(out)[d]!), l.dtypeOf(out), x.tensor);
    l.emit('CUMSUM', [x.tensor, l.int32Const(`${n.name}/axis`, [axis], [])], [t], opts(OPTIONS.CumsumOptions, [[0, 'bool', a.exclusive === true], [1, 'bool', a.reverse === true]]));
    l.place(out, t, x.perm);
  },
};
