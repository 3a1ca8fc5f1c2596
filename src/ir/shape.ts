import { ShapeError } from './op.js';
import { addDims, floorDivDim, isStaticDim, subDims, type Dim } from './dim.js';

/**
 * Numpy broadcasting of two shapes. A run-time dim against a size: the size (it must be that, or
 * 1); against another run-time dim: the first, as the model can only run when they agree or one is 1.
 */
export function broadcast(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const y = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    out.push(broadcastDim(x, y, a, b));
  }
  return out;
}

export function broadcastDim(x: Dim, y: Dim, a: readonly Dim[] = [], b: readonly Dim[] = []): Dim {
  if (x === 1 || x === y) return y;
  if (y === 1) return x;
  if (!isStaticDim(x)) return y;
  if (!isStaticDim(y)) return x;
  throw new ShapeError(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
}

/** Normalizes a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Output size of a sliding window along one spatial dim. pads = [begin, end] or SAME/VALID. */
export function windowOut(size: Dim, kernel: number, stride: number, dilation: number, padding: string | [number, number]): Dim {
  const eff = (kernel - 1) * dilation + 1;
  if (!isStaticDim(size)) {
    if (padding === 'SAME') return floorDivDim(addDims(size, stride - 1), stride);
    const [b, e] = typeof padding === 'string' ? [0, 0] : padding;
    return addDims(floorDivDim(subDims(size, eff - b - e), stride), 1);
  }
  if (padding === 'SAME') return Math.ceil(size / stride);
  const [b, e] = typeof padding === 'string' ? [0, 0] : padding;
  const out = Math.floor((size + b + e - eff) / stride) + 1;
  if (out < 1) throw new ShapeError(`window of ${eff} (kernel ${kernel}, dilation ${dilation}) does not fit input size ${size} with pads [${b}, ${e}]`);
  return out;
}

/** Explicit [top, left, bottom, right] pads for TF's SAME padding on a known input size. */
export function samePads(size: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number]): number[] {
  const pads = [0, 0, 0, 0];
  for (let i = 0; i < 2; i++) {
    const eff = (kernel[i]! - 1) * dilations[i]! + 1;
    const out = Math.ceil(size[i]! / strides[i]!);
    const total = Math.max(0, (out - 1) * strides[i]! + eff - size[i]!);
    pads[i] = Math.floor(total / 2);
    pads[i + 2] = total - pads[i]!;
  }
  return pads;
}

export const sameShape = (a: readonly Dim[], b: readonly Dim[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}
