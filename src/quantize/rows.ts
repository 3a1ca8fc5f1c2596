// Per-row symmetric weight codes of a large 2-D constant, read and quantized a few MB at a time
// (src/ir/lazy-data.ts borrowRows): a 50257 × 768 embedding table or tied LM head never needs its
// 154 MB of floats in memory at once, nor a transposed float copy. Rows are independent under
// per-channel scales on axis 0, so the codes and scales are those of quantizeWeights on the whole data.
import { EdgelmError } from '../errors.js';
import { borrowRows } from '../ir/lazy-data.js';
import type { QuantParams, Tensor } from '../ir/tensor.js';
import { quantizeTensor, type QuantScheme } from './minmax.js';
import type { QuantPlan } from './plan.js';

/** Float bytes read per step. */
const STEP_BYTES = 4 << 20;

/** Quantizes rows [r0, r1) at a time into codesFor(r0, r1) (a buffer of their length), then calls done. */
function eachRowChunk(name: string, t: Tensor, plan: QuantPlan, codesFor: (r0: number, r1: number) => Int8Array, done: (r0: number, r1: number, codes: Int8Array, scale: Float32Array, zeroPoint: Int32Array) => void): void {
  const [rows, cols] = t.shape as [number, number];
  const scheme: QuantScheme = { bits: plan.bits, signed: true, symmetric: true, narrow: true, granularity: 'channel', axis: 0 };
  const step = Math.max(1, Math.floor(STEP_BYTES / (cols * 4)));
  for (let r0 = 0; r0 < rows; r0 += step) {
    const r1 = Math.min(rows, r0 + step);
    const into = codesFor(r0, r1);
    const q = quantizeTensor(name, borrowRows(t, r0, r1) as Float32Array, [r1 - r0, cols], scheme, { into, at: r0 * cols });
    done(r0, r1, into, q.params.scale, q.params.zeroPoint);
  }
}

/** quantizeWeights(name, t.data, t.shape, plan, 'channel', 0) for a 2-D float32 `t`, a few rows at a time. */
export function quantizeRows(name: string, t: Tensor, plan: QuantPlan): { codes: Int8Array; params: QuantParams } {
  const [rows, cols] = t.shape as [number, number];
  const codes = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  const zeroPoint = new Int32Array(rows);
  eachRowChunk(name, t, plan, (r0, r1) => codes.subarray(r0 * cols, r1 * cols), (r0, _r1, _c, s, z) => {
    scale.set(s, r0);
    zeroPoint.set(z, r0);
  });
  return { codes, params: { scale, zeroPoint, bits: plan.bits, axis: 0 } };
}

/**
 * For `t` [N, K] (a transposed product's weight): quantizeWeights on its transpose [K, N] per channel
 * on axis 1, a few rows of `t` at a time: the same elements form each channel, so the same scales
 * and codes.
 */
export function quantizeRowsTransposed(name: string, t: Tensor, plan: QuantPlan): { codes: Int8Array; params: QuantParams } {
  const [n, k] = t.shape as [number, number];
  const codes = new Int8Array(n * k);
  const scale = new Float32Array(n);
  const zeroPoint = new Int32Array(n);
  let chunk = new Int8Array(0);
  const codesFor = (r0: number, r1: number): Int8Array => {
    if (chunk.length < (r1 - r0) * k) chunk = new Int8Array((r1 - r0) * k);
    return chunk.subarray(0, (r1 - r0) * k);
  };
  eachRowChunk(name, t, plan, codesFor, (r0, r1, c, s, z) => {
    for (let r = r0; r < r1; r++) {
      const row = (r - r0) * k;
      for (let j = 0; j < k; j++) codes[j * n + r] = c[row + j]!;
    }
    scale.set(s, r0);
    zeroPoint.set(z, r0);
  });
  return { codes, params: { scale, zeroPoint, bits: plan.bits, axis: 1 } };
}

/**
 * Block codes of the transpose of `t` [K, N] (a MatMul weight; MatMulNBits wants [N, K] rows), as
 * quantizeBlockWeights(name, transpose(t), [N, K], plan, 1) gives them: blocks run along K, so each
 * slab of blockSize rows of `t` (contiguous in the file) holds one block of every output row. A slab
 * at a time is read and transposed, never the whole weight.
 */
export function quantizeColumnBlocks(name: string, t: Tensor, plan: QuantPlan): { codes: Uint8Array; params: QuantParams } {
  if (plan.bits > 8) throw new EdgelmError('usage', `${name}: block-wise codes have at most 8 bits`);
  const [k, n] = t.shape as [number, number];
  const bs = plan.blockSize;
  const kBlocks = Math.ceil(k / bs);
  const codes = new Uint8Array(n * k);
  const scale = new Float32Array(n * kBlocks);
  const zeroPoint = new Int32Array(n * kBlocks);
  const scheme: QuantScheme = { bits: plan.bits, signed: false, symmetric: false, narrow: false, granularity: 'block', axis: 1, blockSize: bs };
  const slabT = new Float32Array(n * bs);
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * bs;
    const w = Math.min(bs, k - k0);
    const slab = borrowRows(t, k0, k0 + w) as Float32Array;
    const rows = slabT.subarray(0, n * w);
    for (let i = 0; i < w; i++) for (let j = 0; j < n; j++) rows[j * w + i] = slab[i * n + j]!;
    const q = quantizeTensor(name, rows, [n, w], scheme);
    const c = q.codes as Uint8Array;
    for (let j = 0; j < n; j++) {
      codes.set(c.subarray(j * w, (j + 1) * w), j * k + k0);
      scale[j * kBlocks + b] = q.params.scale[j]!;
      zeroPoint[j * kBlocks + b] = q.params.zeroPoint[j]!;
    }
  }
  return { codes, params: { scale, zeroPoint, bits: plan.bits, axis: 1, blockSize: bs } };
}
