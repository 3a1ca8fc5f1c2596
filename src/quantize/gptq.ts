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
 * far when the block's first column is reached.
 */
export function gptq(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: GptqOptions): GptqResult {
  const { bits, blockSize } = opts;
  const qmax = 2 ** bits - 1;
  const u = hessianFactor(h, cols, opts.damp ?? 0.01);
  const lazy = opts.lazyColumns ?? 128;
  const blocks = Math.ceil(cols / blockSize);
  const W = Float64Array.from(w);
  for (let c = 0; c < cols; c++) if (h[c * cols + c] === 0) for (let r = 0; r < rows; r++) W[r * cols + c] = 0; // dead input
  const codes = new Uint8Array(rows * cols);
  const scale = new Float32Array(rows * blocks);
  const zeroPoint = new Int32Array(rows * blocks);
  const deq = new Float32Array(rows * cols);
  let loss = 0;
  const scheme = { bits, signed: false, symmetric: false, narrow: false, granularity: 'block' as const };
  const err = new Float64Array(rows * lazy);
  for (let i1 = 0; i1 < cols; i1 += lazy) {
    const i2 = Math.min(cols, i1 + lazy);
    for (let i = i1; i < i2; i++) {
      if (i % blockSize === 0) {
        // This block's parameters, from its columns' current values.
        const b = i / blockSize;
        const end = Math.min(cols, i + blockSize);
        for (let r = 0; r < rows; r++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let c = i; c < end; c++) {
            const v = Math.fround(W[r * cols + c]!);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          const p = chooseParams(lo, hi, scheme);
          scale[r * blocks + b] = p.scale;
          zeroPoint[r * blocks + b] = p.zeroPoint;
        }
      }
      const b = Math.floor(i / blockSize);
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
