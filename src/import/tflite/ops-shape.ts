// Shape arithmetic TFLite converters emit around a Flatten or a dynamic reshape (SHAPE → STRIDED_SLICE →
// PACK → RESHAPE): folded to constants where the shapes are static, as they are in TFLite files, so the
// RESHAPE gets a constant target. STRIDED_SLICE and PACK of activations become IR slice / concat nodes.
import { inputError } from '../../errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { sliceList, stridedSliceBounds } from '../strided-slice.js';
import type { Ctx } from './graph.js';

const numbers = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

function constant(name: string, values: number[], shape: number[], like: Tensor): Tensor {
  const data = like.dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
  return { name, dtype: like.dtype === 'float32' ? 'float32' : 'int32', shape, data };
}

function stridedSlice(c: Ctx): void {
  const o = c.options('StridedSliceOptions');
  const [bm, em, elm, nam, sam] = (['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'] as const).map((k) => o.i32(k)) as [number, number, number, number, number];
  if (elm || nam || o.bool('offset')) throw c.fail('ellipsis, new-axis masks and offset are not supported');
  const begin = c.ints(1, 'begin');
  const end = c.ints(2, 'end');
  const strides = c.ints(3, 'strides');
  const rank = c.shape(0).length;
  if (begin.length !== end.length || begin.length !== strides.length || begin.length > rank) throw inputError(c.b.file, `${c.where}: begin, end and strides must have one entry per sliced axis`);
  if (strides.some((s) => s === 0)) throw inputError(c.b.file, `${c.where}: stride 0`);
  const { starts, ends, shrink } = stridedSliceBounds(begin, end, strides, { begin: bm, end: em, shrink: sam });
  const k = c.konst(0);
  if (k && k.shape.length === 1) {
    const out = sliceList(numbers(k), starts[0]!, ends[0]!, strides[0]!);
    return c.bindConst(constant('', out, shrink.length ? [] : [out.length], k));
  }
  const axes = begin.map((_, i) => i);
  let y = c.emit('slice', [c.input(0)], { starts, ends, axes, steps: strides }, shrink.length ? 'slice' : undefined);
  if (shrink.length) y = c.emit('squeeze', [y], { axes: shrink });
  c.bind(y);
}

function pack(c: Ctx): void {
  const n = c.op.inputs.length;
  const rank = c.shape(0).length;
  const raw = c.options('PackOptions').i32('axis');
  const axis = raw < 0 ? raw + rank + 1 : raw;
  if (axis < 0 || axis > rank) throw inputError(c.b.file, `${c.where}: axis ${raw} is outside a rank-${rank + 1} result`);
  const ks = Array.from({ length: n }, (_, i) => c.konst(i));
  if (n > 0 && rank === 0 && ks.every((k) => k !== undefined)) {
    return c.bindConst(constant('', ks.map((k) => numbers(k!)[0]!), [n], ks[0]!));
  }
  const parts = Array.from({ length: n }, (_, i) => c.emit('unsqueeze', [c.input(i)], { axes: [axis] }, `${i}`));
  c.bind(c.emit('concat', parts, { axis }));
}

export const SHAPE_OPS: Record<string, (c: Ctx) => void> = {
  SHAPE: (c) => {
    const s = c.shape(0);
    c.bindConst({ name: '', dtype: 'int32', shape: [s.length], data: Int32Array.from(s) });
  },
  STRIDED_SLICE: stridedSlice,
  PACK: pack,
};
