// GPTQ numerics against independent references: with an identity Hessian it is round-to-nearest
// (the block scheme of quantizeBlockWeights, code for code); on correlated inputs the lazy-batched
// implementation equals a plain column-by-column reference written from the paper's Algorithm 1
// (explicit H⁻¹ by Gauss–Jordan, every later column updated at once), and its output error on the
// calibration inputs is below RTN's.
import { describe, expect, it } from 'vitest';
import { gptq } from '../../src/quantize/gptq.js';
import { chooseParams, quantizeValue } from '../../src/quantize/minmax.js';
import { defaultPlan, quantizeBlockWeights } from '../../src/quantize/plan.js';
import { prng } from '../../src/train/loop.js';

function randn(rand: () => number, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()));
}

/** H = 2XᵀX for X [samples, cols]. */
function hessian(x: Float64Array, samples: number, cols: number): Float64Array {
  const h = new Float64Array(cols * cols);
  for (let s = 0; s < samples; s++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j]! += 2 * x[s * cols + i]! * x[s * cols + j]!;
  return h;
}

/** Inverse by Gauss–Jordan elimination with partial pivoting (independent of the Cholesky route). */
function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[p * n + k]] = [m[p * n + k]!, m[c * n + k]!];
      [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k]!, inv[c * n + k]!];
    }
    const d = m[c * n + c]!;
    for (let k = 0; k < n; k++) {
      m[c * n + k]! /= d;
      inv[c * n + k]! /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c]!;
      for (let k = 0; k < n; k++) {
        m[r * n + k]! -= f * m[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  return inv;
}

/**
 * Algorithm 1 without lazy batches, from the OBS update: for each column in order quantize it, then
 * for the remaining columns F apply δ_F = −(w_q − q)/[H_F⁻¹]_qq · [H_F⁻¹]_{:,q} and drop q from H⁻¹
 * (H_{F−q}⁻¹ = H_F⁻¹ − [H_F⁻¹]_{:,q}[H_F⁻¹]_{q,:}/[H_F⁻¹]_qq). Block parameters from the updated columns.
 */
function reference(w: Float32Array, rows: number, cols: number, h: Float64Array, bits: number, bs: number, damp: number): Uint8Array {
  const a = Float64Array.from(h);
  let mean = 0;
  for (let i = 0; i < cols; i++) mean += a[i * cols + i]!;
  mean /= cols;
  for (let i = 0; i < cols; i++) a[i * cols + i]! += damp * mean;
  const hinv = invert(a, cols);
  const W = Float64Array.from(w);
  const codes = new Uint8Array(rows * cols);
  const scheme = { bits, signed: false, symmetric: false, narrow: false, granularity: 'block' as const };
  const params: { scale: number; zeroPoint: number }[] = new Array(rows);
  for (let q = 0; q < cols; q++) {
    if (q % bs === 0)
      for (let r = 0; r < rows; r++) {
        const vals = Array.from({ length: Math.min(bs, cols - q) }, (_, k) => Math.fround(W[r * cols + q + k]!));
        params[r] = chooseParams(Math.min(...vals), Math.max(...vals), scheme);
      }
    const d = hinv[q * cols + q]!;
    for (let r = 0; r < rows; r++) {
      const { scale, zeroPoint } = params[r]!;
      const code = quantizeValue(Math.fround(W[r * cols + q]!), Math.fround(1 / scale), zeroPoint, 0, 2 ** bits - 1);
      codes[r * cols + q] = code;
      const e = (W[r * cols + q]! - Math.fround(Math.fround(code - zeroPoint) * scale)) / d;
      for (let c = q + 1; c < cols; c++) W[r * cols + c]! -= e * hinv[q * cols + c]!;
    }
    // Remove q from the inverse.
    for (let i = q + 1; i < cols; i++)
      for (let j = q + 1; j < cols; j++) hinv[i * cols + j]! -= (hinv[i * cols + q]! * hinv[q * cols + j]!) / d;
  }
  return codes;
}

/** ‖(W − Ŵ)Xᵀ‖² over the calibration inputs. */
function outputError(w: Float32Array, wq: Float32Array, rows: number, cols: number, x: Float64Array, samples: number): number {
  let e = 0;
  for (let s = 0; s < samples; s++)
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let c = 0; c < cols; c++) d += (w[r * cols + c]! - wq[r * cols + c]!) * x[s * cols + c]!;
      e += d * d;
    }
  return e;
}

describe('GPTQ', () => {
  const [rows, cols, samples] = [12, 64, 256];

  it('with an identity Hessian is round-to-nearest, code for code (4 bits, blocks of 16)', () => {
    const rand = prng(1);
    const w = Float32Array.from(randn(rand, rows * cols));
    const h = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) h[i * cols + i] = 1;
    const g = gptq(w, rows, cols, h, { bits: 4, blockSize: 16, damp: 0 });
    const rtn = quantizeBlockWeights('w', w, [rows, cols], defaultPlan('dynamic', { bits: 4, blockSize: 16 }), 1);
    expect(Array.from(g.codes)).toEqual(Array.from(rtn.codes));
    expect(Array.from(g.scale)).toEqual(Array.from(rtn.params.scale));
    expect(Array.from(g.zeroPoint)).toEqual(Array.from(rtn.params.zeroPoint));
  });

  it.each([
    [4, 16, 16],
    [3, 32, 32],
    [2, 16, 64],
  ])('%i bits, blocks of %i, lazy batches of %i: equals the plain reference on correlated inputs, and beats RTN on the output error', (bits, bs, lazy) => {
    const rand = prng(bits * 100 + bs);
    const w = Float32Array.from(randn(rand, rows * cols));
    // Inputs with correlated features: x = z·M for a random mixing M.
    const z = randn(rand, samples * cols);
    const m = randn(rand, cols * cols).map((v, i) => (i % (cols + 1) === 0 ? 1 : 0.3 * v));
    const x = new Float64Array(samples * cols);
    for (let s = 0; s < samples; s++) for (let j = 0; j < cols; j++) for (let k = 0; k < cols; k++) x[s * cols + j]! += z[s * cols + k]! * m[k * cols + j]!;
    const h = hessian(x, samples, cols);
    const g = gptq(w, rows, cols, h, { bits, blockSize: bs, damp: 0.01, lazyColumns: lazy });
    const ref = reference(w, rows, cols, h, bits, bs, 0.01);
    const differing = g.codes.reduce((n, c, i) => n + (c !== ref[i] ? 1 : 0), 0);
    // Float rounding may flip a code that sits on a rounding boundary; nothing more.
    expect(differing).toBeLessThanOrEqual(Math.ceil(rows * cols * 0.002));
    const rtn = quantizeBlockWeights('w', w, [rows, cols], defaultPlan('dynamic', { bits, blockSize: bs }), 1);
    const rtnDeq = Float32Array.from(rtn.codes, (c, i) => {
      const b = Math.floor(i / cols) * Math.ceil(cols / bs) + Math.floor((i % cols) / bs);
      return Math.fround(Math.fround(c - rtn.params.zeroPoint[b]!) * rtn.params.scale[b]!);
    });
    expect(outputError(w, g.dequantized, rows, cols, x, samples)).toBeLessThan(0.8 * outputError(w, rtnDeq, rows, cols, x, samples));
  });
});
