import { DTYPES, type DType, type TypedArray, allocate } from './dtype.js';

/**
 * Quantization parameters of a tensor: x ≈ scale · (q − zeroPoint).
 * One entry per tensor, or one per slice along `axis` (per channel), or per block of
 * `blockSize` elements along `axis` (block-wise).
 */
export interface QuantParams {
  scale: Float32Array;
  zeroPoint: Int32Array;
  bits: number;
  axis?: number;
  blockSize?: number;
  /**
   * Where a reader dequantized a stored weight to float: the stored tensor's name and element type
   * (`int8`, `uint4` for packed codes), which `inspect` shows instead of the float32 it became.
   */
  stored?: { name: string; dtype: string };
}

/** A named constant tensor. `shape` is concrete; `data.length` equals its element count. */
export interface Tensor {
  name: string;
  dtype: DType;
  shape: number[];
  data: TypedArray;
  quant?: QuantParams;
}

export type { Dim } from './dim.js';
import type { Dim } from './dim.js';

/** Declared type of a graph input, output or intermediate value. */
export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

/** Element count of a concrete shape, refusing overflow past 2^53 (the caller names the tensor). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return Number.NaN;
    n *= d;
    if (!Number.isSafeInteger(n)) return Number.NaN;
  }
  return n;
}

export function byteSize(t: Tensor): number {
  return t.data.length * DTYPES[t.dtype].bytes;
}

export function makeTensor(name: string, dtype: DType, shape: number[], data?: TypedArray): Tensor {
  return { name, dtype, shape, data: data ?? allocate(dtype, sizeOf(shape)) };
}

/** Fraction of elements that are exactly zero. */
export function sparsity(t: Tensor): number {
  const d = t.data;
  if (d.length === 0) return 0;
  let zeros = 0;
  for (let i = 0; i < d.length; i++) if (d[i] == 0) zeros++;
  return zeros / d.length;
}

/** Transposes row-major `data` of `shape` by `perm` (output dim i = input dim perm[i]). */
export function transposeData<T extends TypedArray>(data: T, shape: readonly number[], perm: readonly number[]): T {
  if (shape.length === 2 && perm[0] === 1) return transpose2d(data, shape[0]!, shape[1]!);
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(rank).fill(0);
  const strideOut = perm.map((p) => inStrides[p]!);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i]! * strideOut[i]!;
    (out as unknown as number[])[o] = (data as unknown as number[])[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** [rows, cols] → [cols, rows] in tiles that stay in cache (weight matrices of hundreds of MiB). */
function transpose2d<T extends TypedArray>(data: T, rows: number, cols: number): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const src = data as unknown as number[];
  const dst = out as unknown as number[];
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE)
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const r1 = Math.min(rows, r0 + TILE);
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c]!;
    }
  return out;
}

/** Above this magnitude a float constant is a mask or sentinel (−1e9, −inf), not a learned value. */
const MASK_MAGNITUDE = 1e4;

/** A float constant holding a non-finite value or one of magnitude ≥ 1e4: an attention mask, not a weight. */
export function isMaskConstant(t: Tensor): boolean {
  const d = t.data as ArrayLike<number>;
  for (let k = 0; k < d.length; k++) if (!(Math.abs(d[k]!) < MASK_MAGNITUDE)) return true;
  return false;
}
