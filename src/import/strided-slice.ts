// TensorFlow's StridedSlice, shared by the TF.js graph and TFLite readers: its begin/end/shrink masks
// as the IR slice's starts and ends (plus the axes to squeeze), and the fold of a 1-D constant.
import { sliceBounds } from '../ir/ops/structure.js';

const BIG = 2147483647;

export interface StridedSliceMasks {
  begin: number;
  end: number;
  shrink: number;
}

/**
 * Slice bounds per sliced axis: a begin-mask bit starts at the edge the stride runs from, an end-mask
 * bit runs to the other edge, a shrink bit takes the one element at begin (masks ignored, as TF does)
 * and lists the axis to squeeze. Strides missing at the end are 1.
 */
export function stridedSliceBounds(begin: readonly number[], end: readonly number[], strides: readonly number[], masks: StridedSliceMasks): { starts: number[]; ends: number[]; steps: number[]; shrink: number[] } {
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  const shrink: number[] = [];
  begin.forEach((b, i) => {
    const s = strides[i] ?? 1;
    steps.push(s);
    if (masks.shrink & (1 << i)) {
      starts.push(b);
      ends.push(b === -1 ? BIG : b + 1);
      shrink.push(i);
      return;
    }
    starts.push(masks.begin & (1 << i) ? (s > 0 ? 0 : BIG) : b);
    ends.push(masks.end & (1 << i) ? (s > 0 ? BIG : -BIG - 1) : end[i]!);
  });
  return { starts, ends, steps, shrink };
}

/** The elements of a list a 1-D slice keeps (start, end, step as StridedSlice gives them). */
export function sliceList(v: readonly number[], start: number, end: number, step: number): number[] {
  const [b, e, s] = sliceBounds(v.length, start, end, step);
  const out: number[] = [];
  for (let i = b; s > 0 ? i < e : i > e; i += s) out.push(v[i]!);
  return out;
}
