// onnxruntime's com.microsoft MatMulNBits weight layout, shared by the ONNX writer and the ONNX
// rewriter (src/quantize/stream-onnx.ts): B [N, k_blocks, blob] of `bits`-bit codes packed from the
// lowest bits, a float scale and a packed zero point per block of block_size along K.
import { EdgelmError } from '../../errors.js';
import type { QuantParams } from '../../ir/tensor.js';
import { planForWeight, quantizeBlockWeights, type QuantPlan } from '../../quantize/plan.js';

export const MS_DOMAIN = 'com.microsoft';

export function packCodes(codes: ArrayLike<number>, rows: number, cols: number, bits: number, rowBytes: number): Uint8Array {
  const out = new Uint8Array(rows * rowBytes);
  const mask = (1 << bits) - 1;
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      const bit = j * bits;
      out[r * rowBytes + (bit >> 3)]! |= (codes[r * cols + j]! & mask) << (bit & 7);
    }
  return out;
}

/**
 * The block_size attribute for blocks of `blockSize` along an axis of `dim`: MatMulNBits wants a power
 * of two ≥ 16 and pads every block to it, so a block longer than the axis shrinks to the axis's
 * power of two (one block either way: same codes, fewer padding bytes).
 */
export function blockAttr(blockSize: number, dim: number): number {
  return Math.min(blockSize, Math.max(16, 2 ** Math.ceil(Math.log2(dim))));
}

export interface NBitsWeight {
  /** B: [N, k_blocks, blob] packed codes. */
  codes: { shape: number[]; data: Uint8Array };
  /** [N, k_blocks] float scales. */
  scales: { shape: number[]; data: Float32Array };
  /** [N, zero-point bytes] packed zero points. */
  zeroPoints: { shape: number[]; data: Uint8Array };
  attrs: { K: number; N: number; bits: number; block_size: number };
}

/**
 * `rows` is the weight as [N, K] (one row per output feature, K along the reduction), or a function
 * giving the block codes quantizeBlockWeights would give for those rows under the weight's plan.
 */
export function nbitsWeight(base: string, rows: Float32Array | ((plan: QuantPlan) => { codes: Uint8Array; params: QuantParams }), n: number, k: number, whole: QuantPlan): NBitsWeight {
  const plan = planForWeight(whole, base);
  const bs = plan.blockSize;
  const q = plan.blockWeights?.get(base) ?? (rows instanceof Float32Array ? quantizeBlockWeights(base, rows, [n, k], plan, 1) : rows(plan));
  if (q.codes.length !== n * k || q.params.scale.length !== n * Math.ceil(k / bs)) throw new EdgelmError('input', `${base}: the calibrated block codes do not fit the weight's [${n}, ${k}] layout`);
  const block = blockAttr(bs, k);
  const kBlocks = Math.ceil(k / bs);
  const blob = (block * plan.bits) / 8;
  // Each block's codes from the lowest bits, the last block zero-padded.
  // Whole blocks of block_size: already in that layout.
  const padded = block !== bs || k % bs !== 0;
  const codes = padded ? new Uint8Array(n * kBlocks * block) : q.codes;
  if (padded) for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) codes[(r * kBlocks + Math.floor(j / bs)) * block + (j % bs)] = q.codes[r * k + j]!;
  const zpBytes = Math.ceil((kBlocks * plan.bits) / 8);
  return {
    codes: { shape: [n, kBlocks, blob], data: packCodes(codes, n * kBlocks, block, plan.bits, blob) },
    scales: { shape: [n, kBlocks], data: q.params.scale },
    // Packed zero points (the default would be 2^(bits−1): symmetric codes).
    zeroPoints: { shape: [n, zpBytes], data: packCodes(q.params.zeroPoint, n, kBlocks, plan.bits, zpBytes) },
    attrs: { K: k, N: n, bits: plan.bits, block_size: block },
  };
}
