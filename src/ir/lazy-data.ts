// Constants whose data stays in the model file until something reads it. Fresh memory is the main
// cost of quantizing a large model (about 9 ms per MB on the 2-core machine, docs/benchmarks.md
// figure 9): a 124 M-parameter model's float weights are 500 MB that a writer reads once, to turn
// them into codes. A lazy tensor's `data` reads the bytes on first access and keeps them, so every
// reader sees an ordinary tensor; a writer that only needs the values for the duration of one call
// takes them with borrowData instead, which reads them into a reused scratch buffer.
import { DTYPES, type DType, type TypedArray } from './dtype.js';
import type { Tensor } from './tensor.js';

/** Reads into.length bytes of the tensor's data, from byte `at`, into `into`. */
type Reader = (into: Uint8Array, at: number) => void;

const pending = new WeakMap<Tensor, Reader>();

function view(dtype: DType, bytes: Uint8Array, n: number): TypedArray {
  const Ctor = DTYPES[dtype].array as unknown as new (b: ArrayBufferLike, o: number, n: number) => TypedArray;
  return new Ctor(bytes.buffer, bytes.byteOffset, n);
}

/** A tensor of `n` elements whose data `read` supplies when first asked for. */
export function lazyTensor(name: string, dtype: DType, shape: number[], n: number, read: Reader): Tensor {
  const t = { name, dtype, shape } as Tensor;
  let data: TypedArray | undefined;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    configurable: true,
    get(): TypedArray {
      if (!data) {
        const bytes = new Uint8Array(n * DTYPES[dtype].bytes);
        read(bytes, 0);
        data = view(dtype, bytes, n);
        pending.delete(t);
      }
      return data;
    },
    set(v: TypedArray) {
      data = v;
      pending.delete(t);
    },
  });
  pending.set(t, read);
  return t;
}

/** A reused buffer, grown to the largest use so far (fresh memory is what costs). */
let scratch = new Uint8Array(0);
function scratchBytes(bytes: number): Uint8Array {
  if (scratch.length < bytes) {
    scratch = new Uint8Array(0); // the old one can go before the new one is allocated
    scratch = new Uint8Array(bytes);
  }
  return scratch.subarray(0, bytes);
}

const elements = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/**
 * The tensor's data for the duration of the caller's work: `t.data` when it is in memory, else its
 * bytes read into a scratch buffer that the next borrowData or borrowRows call overwrites. The caller
 * must not keep the result (or a view of it) past that, nor borrow two tensors at once.
 */
export function borrowData(t: Tensor): TypedArray {
  return borrowRows(t, 0, t.shape[0] ?? 1);
}

/** Rows [r0, r1) along axis 0 (all of a scalar), borrowed as borrowData's data is. */
export function borrowRows(t: Tensor, r0: number, r1: number): TypedArray {
  const row = t.shape.length ? elements(t.shape.slice(1)) : 1;
  const read = pending.get(t);
  if (!read) return r0 === 0 && r1 * row === t.data.length ? t.data : t.data.subarray(r0 * row, r1 * row);
  const size = DTYPES[t.dtype].bytes;
  const into = scratchBytes((r1 - r0) * row * size);
  read(into, r0 * row * size);
  return view(t.dtype, into, (r1 - r0) * row);
}

/**
 * A float32 tensor's values for a reader that takes them a piece at a time (quantizeTensor): its data
 * when in memory, else reads from its file straight into the reader's buffer (no copy of the whole).
 */
export function floatSource(t: Tensor): Float32Array | { length: number; read(start: number, into: Float32Array): void } {
  const read = pending.get(t);
  if (!read || t.dtype !== 'float32') return t.data as Float32Array;
  return { length: elements(t.shape), read: (start, into) => read(new Uint8Array(into.buffer, into.byteOffset, into.byteLength), start * 4) };
}

/** Whether the tensor's data is still only in its file. */
export function isLazy(t: Tensor): boolean {
  return pending.has(t);
}
