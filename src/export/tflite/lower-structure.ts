// TFLite lowerings of the ops of src/ir/ops/structure.ts: reshapes, transposes (recorded, not emitted),
// concat, split, slice, gather, pad, cast and expand. Merged into TFLITE_LOWERINGS (lower.ts).
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { sliceBounds } from '../../ir/ops/structure.js';
import type { OpType } from '../../ir/registry.js';
import type { Lowerer } from './lowerer.js';
import { OPTIONS } from './schema.js';
import { fillConst, identity, opts, tflType, type Lowering } from './helpers.js';

export const STRUCTURE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  reshape: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  unsqueeze: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  squeeze: (l, n) => {
    const out = l.shapeOf(n.outputs[0]!);
    l.plain(n, 'RESHAPE', [l.int32Const(`${n.name}/shape`, out)], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  },
  transpose: (l, n, a) => {
    // A transpose only changes which logical order the data is in: record it, emit nothing yet.
    const x = l.placement(n.inputs[0]!);
    const rank = x.perm.length;
    const perm = (a.perm as number[]).length ? (a.perm as number[]) : identity(rank).reverse();
    // Output logical dim j = input logical dim perm[j]; physical dim i holds input logical x.perm[i].
    l.place(n.outputs[0]!, x.tensor, x.perm.map((d) => perm.indexOf(d)));
  },
  concat: (l, n, a) => {
    const first = l.placement(n.inputs[0]!);
    const rank = first.perm.length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const perm = first.perm;
    const ins = n.inputs.map((i) => l.requantized(l.get(i, perm)));
    const out = n.outputs[0]!;
    const t = l.activation(out, perm.map((d) => l.shapeOf(out)[d]!), l.dtypeOf(out));
    l.emit('CONCATENATION', ins, [t], opts(OPTIONS.ConcatenationOptions, [[0, 'i32', perm.indexOf(axis)], [1, 'i8', 0]]));
    l.place(out, t, perm);
  },
  split: (l, n, a) => {
    const x = l.get(n.inputs[0]!);
    const rank = l.shapeOf(n.inputs[0]!).length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const outs = n.outputs.map((o) => l.activation(o, l.shapeOf(o), l.dtypeOf(o)));
    l.emit('SPLIT_V', [x, l.int32Const(`${n.name}/sizes`, a.sizes as number[]), l.int32Const(`${n.name}/axis`, [axis], [])], outs, opts(OPTIONS.SplitVOptions, [[0, 'i32', n.outputs.length]]));
    n.outputs.forEach((o, i) => l.place(o, outs[i]!));
  },
  slice: (l, n, a) => {
    const shape = l.shapeOf(n.inputs[0]!);
    const rank = shape.length;
    const begin = new Array<number>(rank).fill(0);
    const end = [...shape];
    const strides = new Array<number>(rank).fill(1);
    let endMask = 0;
    (a.axes as number[]).forEach((ax, j) => {
      const axis = ax < 0 ? ax + rank : ax;
      const [b, e, s] = sliceBounds(shape[axis]!, (a.starts as number[])[j]!, (a.ends as number[])[j]!, (a.steps as number[])[j] ?? 1);
      begin[axis] = b;
      end[axis] = e;
      strides[axis] = s;
      if (e < 0) endMask |= 1 << axis; // "through index 0" for negative steps
    });
    // A slice that keeps everything (PyTorch's `pos[:, :T]` with T the full length) is no op at all:
    // STRIDED_SLICE would copy a constant on every call. A graph output keeps its own tensor.
    const out = n.outputs[0]!;
    if (begin.every((b, i) => b === 0 && end[i] === shape[i] && strides[i] === 1) && !l.graph.outputs.some((o) => o.name === out)) {
      const x = l.placement(n.inputs[0]!);
      return l.place(out, x.tensor, x.perm);
    }
    l.plain(n, 'STRIDED_SLICE', [l.int32Const(`${n.name}/begin`, begin), l.int32Const(`${n.name}/end`, end), l.int32Const(`${n.name}/strides`, strides)], opts(OPTIONS.StridedSliceOptions, [[1, 'i32', endMask]]));
  },
  gather: (l, n, a) => {
    const rank = l.shapeOf(n.inputs[0]!).length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const idx = l.constant(n.inputs[1]!);
    const indices = idx
      ? l.constTensor(n.inputs[1]!, 'int32', idx.shape, Int32Array.from(idx.data as ArrayLike<number | bigint>, (v) => {
          const i = Number(v);
          return i < 0 ? i + l.shapeOf(n.inputs[0]!)[axis]! : i;
        }))
      : runtimeIndices(l, n, axis);
    const out = n.outputs[0]!;
    const t = l.activation(out, l.shapeOf(out), l.dtypeOf(out));
    l.emit('GATHER', [l.embeddingTable(n, axis) ?? l.get(n.inputs[0]!), indices], [t], opts(OPTIONS.GatherOptions, [[0, 'i32', axis]]));
    l.place(out, t);
  },
  pad: (l, n, a) => {
    const placed = l.placement(n.inputs[0]!);
    const x = { ...placed, tensor: l.requantized(placed.tensor) };
    const rank = x.perm.length;
    const pads = a.pads as number[];
    const phys = x.perm.flatMap((d) => [pads[d]!, pads[d + rank]!]);
    const out = n.outputs[0]!;
    const t = l.activation(out, x.perm.map((d) => l.shapeOf(out)[d]!), l.dtypeOf(out));
    const paddings = l.int32Const(`${n.name}/paddings`, phys, [rank, 2]);
    if (a.mode === 'reflect') l.emit('MIRROR_PAD', [x.tensor, paddings], [t], opts(OPTIONS.MirrorPadOptions, [[0, 'i8', 0]]));
    else if (a.value === 0) l.emit('PAD', [x.tensor, paddings], [t], opts(OPTIONS.PadOptions));
    else l.emit('PADV2', [x.tensor, paddings, fillConst(l, `${n.name}/value`, a.value as number, x.tensor)], [t], opts(OPTIONS.PadV2Options));
    l.place(out, t, x.perm);
  },
  cast: (l, n, a) => {
    const from = tflType(l.dtypeOf(n.inputs[0]!));
    const to = tflType(a.to as DType);
    if (from === to) return l.place(n.outputs[0]!, l.placement(n.inputs[0]!).tensor, l.placement(n.inputs[0]!).perm);
    l.elementwise(n, 'CAST', opts(OPTIONS.CastOptions, [[0, 'i8', from], [1, 'i8', to]]));
  },
  expand: (l, n) => {
    // RESHAPE to the output's rank, then TILE the size-1 dims: LiteRT's build has no BROADCAST_TO.
    const out = l.shapeOf(n.outputs[0]!);
    const inShape = l.shapeOf(n.inputs[0]!);
    const lifted = [...new Array<number>(out.length - inShape.length).fill(1), ...inShape];
    let x = l.get(n.inputs[0]!);
    if (lifted.length !== inShape.length) {
      const r = l.activation(`${n.name}/lifted`, lifted, l.dtypeOf(n.inputs[0]!), x);
      l.emit('RESHAPE', [x, l.int32Const(`${n.name}/lifted_shape`, lifted)], [r], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', lifted]]));
      x = r;
    }
    const t = l.activation(n.outputs[0]!, out, l.dtypeOf(n.outputs[0]!), x);
    l.emit('TILE', [x, l.int32Const(`${n.name}/multiples`, out.map((d, i) => d / lifted[i]!))], [t]);
    l.place(n.outputs[0]!, t);
  },
};

/** Run-time Gather indices made non-negative (ONNX counts −1 from the end; TFLite's GATHER refuses them). */
function runtimeIndices(l: Lowerer, n: Node, axis: number): number {
  const v = n.inputs[1]!;
  const shape = l.shapeOf(v);
  const t = l.activation(`${v}/nonnegative`, shape, 'int32');
  l.emit('FLOOR_MOD', [l.get(v), l.int32Const(`${n.name}/dim`, [l.shapeOf(n.inputs[0]!)[axis]!], [])], [t]);
  return t;
}
