// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", Algorithm 1): quantize a layer's weight columns in order and spread each column's
// rounding error over the columns not yet quantized, through the upper Cholesky factor of H⁻¹ with
// H = 2XᵀX the layer's input Hessian (+ damping), in lazy blocks of columns. Codes, scales and zero
// points come out per block of `blockSize` along the reduction axis in the scheme the output format
// stores (asymmetric min-max widened to 0, as quantizeBlockWeights), so the file's dequantized weights
// are exactly the ones GPTQ chose.
import { EdgelmError } from '../errors.js';
import { chooseParams, quantizeValue } from './minmax.js';

export interface GptqOptions {
  bits: number;
  /** Columns (along the reduction axis) sharing one scale and zero point. */
  blockSize: number;
  /** Damping as a fraction of the mean diagonal of H (the paper's 1%). */
  damp?: number;
  /** Columns updated together before the rest of the matrix ("lazy batch"; 128 in the paper). */
  lazyColumns?: number;
  /**
   * Quantize columns by decreasing H_ii (the paper's "act-order"). The file's blocks are contiguous
   * along the reduction axis, so their parameters are then fixed up front from the unquantized
   * weights (min-max per block, as round-to-nearest), not from the columns as updated.
   */
  actOrder?: boolean;
}

export interface GptqResult {
  /** Codes [rows, cols] in [0, 2^bits − 1]. */
  codes: Uint8Array;
  /** Per (row, block): [rows, ceil(cols / blockSize)]. */
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** scale · (code − zero point), [rows, cols]. */
  dequantized: Float32Array;
  /** Σ (w − q)² / (H⁻¹)ᵢᵢ over all weights: the proxy loss GPTQ minimizes (halved). */
  loss: number;
}

/** Cholesky factor L (lower, row-major n×n) of a symmetric positive definite matrix; undefined if not SPD. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j]!;
    }
  return l;
}

/** Inverse of A = L·Lᵀ from its Cholesky factor. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // L⁻¹ by forward substitution, then A⁻¹ = L⁻ᵀ·L⁻¹.
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    li[c * n + c] = 1 / l[c * n + c]!;
    for (let i = c + 1; i < n; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s += l[i * n + k]! * li[k * n + c]!;
      li[i * n + c] = -s / l[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  return inv;
}

/**
 * The upper Cholesky factor U (H⁻¹ = UᵀU) of the damped Hessian's inverse: row i of U holds the
 * weights with which column i's error moves the later columns. Dead inputs (H_ii = 0) get H_ii = 1.
 */
export function hessianFactor(h: Float64Array, n: number, damp: number): Float64Array {
  const a = Float64Array.from(h);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (a[i * n + i] === 0) a[i * n + i] = 1;
    mean += a[i * n + i]!;
  }
  mean /= n;
  for (let i = 0; i < n; i++) a[i * n + i]! += damp * mean;
  const l = cholesky(a, n);
  if (!l) throw new EdgelmError('input', 'GPTQ: the layer\'s input Hessian is not positive definite even after damping; raise the damping or use --method rtn');
  return upperCholesky(inverseFromCholesky(l, n), n);
}

/** U upper triangular with A = UᵀU (row-major): the transpose of A's lower Cholesky factor. */
function upperCholesky(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  if (!l) throw new EdgelmError('input', 'GPTQ: H⁻¹ is not positive definite');
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) u[j * n + i] = l[i * n + j]!;
  return u;
}

/**
 * GPTQ of `w` ([rows, cols], cols the reduction axis) against the Hessian `h` ([cols, cols],
 * 2XᵀX summed over calibration inputs). Block parameters are found from the columns as updated so
 * far when the block's first column is reached (in act-order, from the original weights).
 */
export function gptq(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: GptqOptions): GptqResult {
  if (!opts.actOrder) return gptqInOrder(w, rows, cols, h, opts);
  // Columns by decreasing H_ii (ties by index); W and H permuted, the result permuted back.
  const perm = Int32Array.from({ length: cols }, (_, i) => i).sort((a, b) => h[b * cols + b]! - h[a * cols + a]! || a - b);
  const wp = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) wp[r * cols + c] = w[r * cols + perm[c]!]!;
  const hp = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) hp[i * cols + j] = h[perm[i]! * cols + perm[j]!]!;
  const fixed = blockParams(w, rows, cols, opts.bits, opts.blockSize);
  const g = gptqInOrder(wp, rows, cols, hp, opts, { perm, ...fixed });
  const codes = new Uint8Array(rows * cols);
  const deq = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      codes[r * cols + perm[c]!] = g.codes[r * cols + c]!;
      deq[r * cols + perm[c]!] = g.dequantized[r * cols + c]!;
    }
  return { ...g, codes, dequantized: deq };
}

const blockScheme = (bits: number) => ({ bits, signed: false, symmetric: false, narrow: false, granularity: 'block' as const });

/** Min-max parameters per (row, block) of columns [b·blockSize, (b+1)·blockSize) of `w` (values as float32). */
function blockParams(w: ArrayLike<number>, rows: number, cols: number, bits: number, blockSize: number, only?: number): { scale: Float32Array; zeroPoint: Int32Array } {
  const blocks = Math.ceil(cols / blockSize);
  const scale = new Float32Array(rows * blocks);
  const zeroPoint = new Int32Array(rows * blocks);
  for (let b = only ?? 0; b < (only === undefined ? blocks : only + 1); b++)
    for (let r = 0; r < rows; r++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = b * blockSize; c < Math.min(cols, (b + 1) * blockSize); c++) {
        const v = Math.fround(w[r * cols + c]!);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const p = chooseParams(lo, hi, blockScheme(bits));
      scale[r * blocks + b] = p.scale;
      zeroPoint[r * blocks + b] = p.zeroPoint;
    }
  return { scale, zeroPoint };
}

/**
 * Columns in their given order. With `fixed`, column i belongs to block ⌊perm[i] / blockSize⌋ of the
 * original layout, whose parameters are given; otherwise blocks are consecutive columns, parameters
 * chosen at each block's first column.
 */
function gptqInOrder(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: GptqOptions, fixed?: { perm: Int32Array; scale: Float32Array; zeroPoint: Int32Array }): GptqResult {
  const { bits, blockSize } = opts;
  const qmax = 2 ** bits - 1;
  const u = hessianFactor(h, cols, opts.damp ?? 0.01);
  const lazy = opts.lazyColumns ?? 128;
  const blocks = Math.ceil(cols / blockSize);
  const W = Float64Array.from(w);
  for (let c = 0; c < cols; c++) if (h[c * cols + c] === 0) for (let r = 0; r < rows; r++) W[r * cols + c] = 0; // dead input
  const codes = new Uint8Array(rows * cols);
  const scale = fixed?.scale ?? new Float32Array(rows * blocks);
  const zeroPoint = fixed?.zeroPoint ?? new Int32Array(rows * blocks);
  const deq = new Float32Array(rows * cols);
  let loss = 0;
  const err = new Float64Array(rows * lazy);
  for (let i1 = 0; i1 < cols; i1 += lazy) {
    const i2 = Math.min(cols, i1 + lazy);
    for (let i = i1; i < i2; i++) {
      if (!fixed && i % blockSize === 0) {
        // This block's parameters, from its columns' current values.
        const p = blockParams(W, rows, cols, bits, blockSize, i / blockSize);
        for (let r = 0; r < rows; r++) {
          scale[r * blocks + i / blockSize] = p.scale[r * blocks + i / blockSize]!;
          zeroPoint[r * blocks + i / blockSize] = p.zeroPoint[r * blocks + i / blockSize]!;
        }
      }
      const b = Math.floor((fixed ? fixed.perm[i]! : i) / blockSize);
      const d = u[i * cols + i]!;
      for (let r = 0; r < rows; r++) {
        const s = scale[r * blocks + b]!;
        const z = zeroPoint[r * blocks + b]!;
        const x = W[r * cols + i]!;
        const q = quantizeValue(Math.fround(x), Math.fround(1 / s), z, 0, qmax);
        const xq = Math.fround(Math.fround(q - z) * s);
        codes[r * cols + i] = q;
        deq[r * cols + i] = xq;
        const e = (x - xq) / d;
        loss += ((x - xq) * (x - xq)) / (d * d) / 2;
        // Within the lazy block, right away; the rest of the matrix once per block.
        for (let c = i + 1; c < i2; c++) W[r * cols + c]! -= e * u[i * cols + c]!;
        err[r * lazy + (i - i1)] = e;
      }
    }
    for (let r = 0; r < rows; r++)
      for (let c = i2; c < cols; c++) {
        let s = 0;
        for (let i = i1; i < i2; i++) s += err[r * lazy + (i - i1)]! * u[i * cols + c]!;
        W[r * cols + c]! -= s;
      }
  }
  return { codes, scale, zeroPoint, dequantized: deq, loss };
}

/** The calibration loss tr((W − Q)·H·(W − Q)ᵀ) of dequantized weights `q` against `w` ([rows, cols]). */
export function calibrationLoss(w: Float32Array, q: Float32Array, rows: number, cols: number, h: Float64Array): number {
  const e = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) e[c] = w[r * cols + c]! - q[r * cols + c]!;
    for (let i = 0; i < cols; i++) {
      if (e[i] === 0) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) s += h[i * cols + j]! * e[j]!;
      total += e[i]! * s;
    }
  }
  return total;
}
