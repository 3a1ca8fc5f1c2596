// AWQ (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration"): a layer's salient input channels are those with large activations; scaling them up
// before quantization (W·diag(s)) and the input down (diag(s)⁻¹·x, folded into the op before, see
// awq-fold.ts) shrinks their relative rounding error. s = mean|x|^α per input channel, α searched on a
// grid to minimize the layer's output error on the calibration inputs, tr(ΔW·H·ΔWᵀ) with H = 2XᵀX over
// every calibration row and ΔW = Q(W·diag(s))·diag(s)⁻¹ − W, Q the block quantizer the output format
// stores, so the loss is the written file's. α = 0 (s = 1) is round-to-nearest itself. Then, as the
// paper's second step, each block's range may shrink (clip) where that lowers its own output error.
import { calibrationLoss } from './gptq.js';
import { chooseParams, dequantizeTensor, quantizeValue } from './minmax.js';
import { quantizeBlockWeights, type QuantPlan } from './plan.js';

/** α = 0, 0.05, …, 1 (the paper's grid of 20 steps). */
export const AWQ_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

/** Range kept per block: 1, 0.95, …, 0.55 (the paper's clip search shrinks the range by at most half). */
export const CLIP_GRID: readonly number[] = Array.from({ length: 10 }, (_, i) => 1 - i / 20);

/**
 * s_k = max(mean|x_k|^α, 1e-4), divided by √(max s · min s) so that the scales sit around 1 (the
 * blocks' min-max quantizer is scale-invariant; this only keeps float32 ranges tame), as float32.
 */
export function awqScales(meanAbs: ArrayLike<number>, alpha: number): Float32Array {
  const s = Float64Array.from(meanAbs, (m) => Math.max(Math.pow(m, alpha), 1e-4));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of s) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const norm = Math.sqrt(lo * hi);
  return Float32Array.from(s, (v) => v / norm);
}

/** A weight as [N, K] rows (output features × reduction), the layout blocks run along. */
export interface AwqWeight {
  rows: Float32Array;
  n: number;
}

/** W·diag(s) as float32, [N, K]: what the file stores before rounding. */
export const scaleColumns = (rows: Float32Array, k: number, s: Float32Array): Float32Array => Float32Array.from(rows, (v, i) => v * s[i % k]!);

/** Q(W·diag(s))·diag(s)⁻¹ with round-to-nearest blocks: the weight the file applies to the unscaled input, [N, K]. */
export function scaledQuantized(w: AwqWeight, k: number, s: Float32Array, plan: QuantPlan): Float32Array {
  const q = quantizeBlockWeights('awq', scaleColumns(w.rows, k, s), [w.n, k], plan, 1);
  const deq = dequantizeTensor(q.codes, [w.n, k], q.params);
  return Float32Array.from(deq, (v, i) => v / s[i % k]!);
}

export interface AwqSearch {
  /** The α chosen (0: round-to-nearest). */
  alpha: number;
  scales: Float32Array;
  /** tr(ΔW·H·ΔWᵀ) summed over the group's weights at α = 0 (round-to-nearest) and at the chosen α. */
  rtnLoss: number;
  loss: number;
  /** The loss at each α of the grid. */
  losses: number[];
}

/**
 * Searches α for weights sharing one input (a group, as q/k/v sharing a norm's output): the loss is
 * summed over them and one s serves all. Ties keep the smaller α, so a group keeps round-to-nearest
 * unless scaling strictly lowers the loss.
 */
export function awqSearch(weights: readonly AwqWeight[], k: number, meanAbs: ArrayLike<number>, h: Float64Array, plan: QuantPlan, grid: readonly number[] = AWQ_GRID): AwqSearch {
  const lossAt = (s: Float32Array): number => weights.reduce((sum, w) => sum + calibrationLoss(w.rows, scaledQuantized(w, k, s, plan), w.n, k, h), 0);
  const losses = grid.map((alpha) => lossAt(awqScales(meanAbs, alpha)));
  const rtnAt = grid.indexOf(0);
  const rtnLoss = rtnAt >= 0 ? losses[rtnAt]! : lossAt(new Float32Array(k).fill(1));
  let best = -1;
  for (let i = 0; i < grid.length; i++) if (losses[i]! < rtnLoss && (best < 0 || losses[i]! < losses[best]! || (losses[i] === losses[best] && grid[i]! < grid[best]!))) best = i;
  const alpha = best < 0 ? 0 : grid[best]!;
  return { alpha, scales: awqScales(meanAbs, alpha), rtnLoss, loss: best < 0 ? rtnLoss : losses[best]!, losses };
}

export interface ClippedBlocks {
  /** Codes [N, K] and per-(row, block) parameters, as quantizeBlockWeights lays them out. */
  codes: Uint8Array;
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** The range ratio each (row, block) kept. */
  ratio: Float32Array;
  /** Dequantized codes, [N, K]. */
  dequantized: Float32Array;
}

/**
 * Block codes of `w` ([N, K], already scaled) where each (row, block) keeps the range ratio·[min, max]
 * (min-max widened to 0, as round-to-nearest) that minimizes its own output error e·H_bb·eᵀ, e the
 * block's error divided by the input scales `s` (the file's input is x/s) and H_bb the block's part
 * of H. Ratio 1 is round-to-nearest, and ties keep it.
 */
export function clipSearch(w: Float32Array, n: number, k: number, s: Float32Array, h: Float64Array, bits: number, blockSize: number, ratios: readonly number[] = CLIP_GRID): ClippedBlocks {
  const blocks = Math.ceil(k / blockSize);
  const qmax = 2 ** bits - 1;
  const scheme = { bits, signed: false, symmetric: false, narrow: false, granularity: 'block' as const };
  const codes = new Uint8Array(n * k);
  const scale = new Float32Array(n * blocks);
  const zeroPoint = new Int32Array(n * blocks);
  const ratio = new Float32Array(n * blocks);
  const deq = new Float32Array(n * k);
  const e = new Float64Array(blockSize);
  const q = new Uint8Array(blockSize);
  for (let r = 0; r < n; r++)
    for (let b = 0; b < blocks; b++) {
      const c0 = b * blockSize;
      const len = Math.min(k, c0 + blockSize) - c0;
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = 0; c < len; c++) {
        const v = w[r * k + c0 + c]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let best = Infinity;
      for (const t of ratios) {
        const p = chooseParams(lo * t, hi * t, scheme);
        const inv = Math.fround(1 / p.scale);
        for (let c = 0; c < len; c++) {
          q[c] = quantizeValue(w[r * k + c0 + c]!, inv, p.zeroPoint, 0, qmax);
          e[c] = (Math.fround(Math.fround(q[c]! - p.zeroPoint) * p.scale) - w[r * k + c0 + c]!) / s[c0 + c]!;
        }
        let loss = 0;
        for (let i = 0; i < len; i++) {
          if (e[i] === 0) continue;
          let sum = 0;
          for (let j = 0; j < len; j++) sum += h[(c0 + i) * k + c0 + j]! * e[j]!;
          loss += e[i]! * sum;
        }
        if (!(loss < best)) continue;
        best = loss;
        scale[r * blocks + b] = p.scale;
        zeroPoint[r * blocks + b] = p.zeroPoint;
        ratio[r * blocks + b] = t;
        for (let c = 0; c < len; c++) {
          codes[r * k + c0 + c] = q[c]!;
          deq[r * k + c0 + c] = Math.fround(Math.fround(q[c]! - p.zeroPoint) * p.scale);
        }
      }
    }
  return { codes, scale, zeroPoint, ratio, dequantized: deq };
}
