// AWQ's numerics against a plain reference written here from the paper's definitions: scales
// s = mean|x|^α (normalized by √(max·min)), the weight scaled, rounded per block (asymmetric min-max
// widened to 0, as MatMulNBits stores it) and unscaled, the output error ‖X·(Ŵ − W)ᵀ‖² summed row by
// row over explicit input rows (not through XᵀX as edgelm computes it), α the grid's argmin; and the
// per-block clip search, each (row, block) keeping the range ratio with the lowest error on its own
// inputs. Inputs have a few salient channels (large activations), the case AWQ is for.
import { describe, expect, it } from 'vitest';
import { AWQ_GRID, awqScales, awqSearch, clipSearch, scaleColumns, scaledQuantized } from '../../src/quantize/awq.js';
import { dequantizeTensor } from '../../src/quantize/minmax.js';
import { defaultPlan, quantizeBlockWeights } from '../../src/quantize/plan.js';
import { prng } from '../../src/train/loop.js';

const f = Math.fround;
const roundHalfEven = (v: number): number => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** One block, asymmetric min-max over [lo·t, hi·t] widened to 0: codes and dequantized values. */
function refBlock(w: number[], bits: number, t = 1): { q: number[]; deq: number[] } {
  const qmax = 2 ** bits - 1;
  const lo = f(Math.min(0, Math.min(...w) * t));
  const hi = f(Math.max(0, Math.max(...w) * t));
  const scale = Math.max(f(f(hi - lo) / qmax), 1e-12);
  const zero = Math.min(qmax, Math.max(0, -roundHalfEven(f(lo / scale))));
  const q = w.map((v) => Math.min(qmax, Math.max(0, zero + roundHalfEven(f(v * f(1 / scale))))));
  return { q, deq: q.map((c) => f(f(c - zero) * scale)) };
}

/** Reference Q over [N, K] rows in blocks along K. */
function refQuantize(w: Float32Array, n: number, k: number, bits: number, block: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++)
    for (let b = 0; b < k; b += block) {
      const vals = Array.from(w.subarray(r * k + b, r * k + Math.min(k, b + block)));
      out.set(refBlock(vals, bits).deq, r * k + b);
    }
  return out;
}

/** Σ over rows of ‖x·(Ŵ − W)ᵀ‖², one input row at a time. */
function refError(x: Float32Array, rows: number, k: number, w: Float32Array, wq: Float32Array, n: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < n; o++) {
      let y = 0;
      let yq = 0;
      for (let c = 0; c < k; c++) {
        y += x[r * k + c]! * w[o * k + c]!;
        yq += x[r * k + c]! * wq[o * k + c]!;
      }
      total += (yq - y) ** 2;
    }
  return total;
}

function problem(seed: number, rows: number, k: number, n: number) {
  const rand = prng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  // Every 8th channel is salient (activations ×12), as AWQ observes in LLM activations.
  const x = Float32Array.from({ length: rows * k }, (_, i) => gauss() * (i % k % 8 === 3 ? 12 : 1));
  const w = Float32Array.from({ length: n * k }, () => gauss() * 0.1);
  const meanAbs = Array.from({ length: k }, (_, c) => {
    let s = 0;
    for (let r = 0; r < rows; r++) s += Math.abs(x[r * k + c]!);
    return s / rows;
  });
  const h = new Float64Array(k * k);
  for (let r = 0; r < rows; r++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j]! += 2 * x[r * k + i]! * x[r * k + j]!;
  return { x, w, meanAbs, h };
}

describe('AWQ numerics', () => {
  it.each([
    [4, 16],
    [2, 16],
  ])('%i bits, blocks of %i: the α search and the scaled-quantized weights equal the reference', (bits, block) => {
    const [rows, k, n] = [96, 64, 12];
    const { x, w, meanAbs, h } = problem(bits * 7, rows, k, n);
    // Reference: every α of the grid, errors over explicit rows.
    const ref = AWQ_GRID.map((alpha) => {
      const raw = meanAbs.map((m) => Math.max(m ** alpha, 1e-4));
      const norm = Math.sqrt(Math.max(...raw) * Math.min(...raw));
      const s = Float32Array.from(raw, (v) => v / norm);
      const scaled = Float32Array.from(w, (v, i) => v * s[i % k]!);
      const eff = Float32Array.from(refQuantize(scaled, n, k, bits, block), (v, i) => v / s[i % k]!);
      return { alpha, s, eff, err: refError(x, rows, k, w, eff, n) };
    });
    const rtn = ref[0]!.err;
    const best = ref.reduce((b, r) => (r.err < b.err ? r : b), ref[0]!);
    expect(best.alpha).toBeGreaterThan(0); // salient channels: scaling pays
    expect(best.err).toBeLessThan(0.9 * rtn);

    const plan = defaultPlan('dynamic', { bits, granularity: 'block', blockSize: block });
    const got = awqSearch([{ rows: w, n }], k, meanAbs, h, plan);
    expect(got.alpha).toBe(best.alpha);
    // H = 2XᵀX: the loss is twice the summed squared output error.
    expect(Math.abs(got.rtnLoss / 2 - rtn) / rtn).toBeLessThan(1e-6);
    expect(Math.abs(got.loss / 2 - best.err) / best.err).toBeLessThan(1e-6);
    got.losses.forEach((l, i) => expect(Math.abs(l / 2 - ref[i]!.err) / ref[i]!.err).toBeLessThan(1e-6));
    expect(Math.max(...got.scales.map((v, i) => Math.abs(v - best.s[i]!) / best.s[i]!))).toBeLessThan(1e-6);
    // The weights the file applies: Q(W·diag(s))·diag(s)⁻¹, element for element.
    const eff = scaledQuantized({ rows: w, n }, k, got.scales, plan);
    const step = Math.max(...best.eff.map((v, i) => Math.abs(v - w[i]!)));
    expect(Math.max(...eff.map((v, i) => Math.abs(v - best.eff[i]!)))).toBeLessThan(1e-6 * step);
  });

  it('keeps α = 0 (round-to-nearest) when no channel stands out and nothing lowers the loss', () => {
    // All input channels alike and constant |x|: every s is 1 after normalization.
    const [rows, k, n] = [16, 32, 4];
    const x = Float32Array.from({ length: rows * k }, (_, i) => ((i * 7919) % 3 === 0 ? 1 : -1));
    const { w } = problem(5, rows, k, n);
    const h = new Float64Array(k * k);
    for (let r = 0; r < rows; r++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j]! += 2 * x[r * k + i]! * x[r * k + j]!;
    const r = awqSearch([{ rows: w, n }], k, new Array(k).fill(1), h, defaultPlan('dynamic', { bits: 4, granularity: 'block', blockSize: 16 }));
    expect(r.alpha).toBe(0);
    expect(r.loss).toBe(r.rtnLoss);
    expect([...awqScales(new Array(k).fill(3), 0.5)]).toEqual(new Array(k).fill(1));
  });

  it('clip search: each block keeps the ratio with the lowest error on its inputs; ratio 1 is the writer\'s round-to-nearest', () => {
    const [rows, k, n, block, bits] = [64, 48, 6, 16, 2];
    const { x, w, meanAbs, h } = problem(11, rows, k, n);
    const s = awqScales(meanAbs, 0.5);
    const scaled = scaleColumns(w, k, s);
    const ratios = [1, 0.9, 0.8, 0.7, 0.6];
    const got = clipSearch(scaled, n, k, s, h, bits, block, ratios);
    let clipped = 0;
    for (let r = 0; r < n; r++)
      for (let b = 0; b < k / block; b++) {
        const vals = Array.from(scaled.subarray(r * k + b * block, r * k + (b + 1) * block));
        // Error of this block alone on the unscaled inputs: Σ_rows (Σ_c x_c·(q_c − w_c)/s_c)².
        const errs = ratios.map((t) => {
          const { deq } = refBlock(vals, bits, t);
          let e = 0;
          for (let i = 0; i < rows; i++) {
            let d = 0;
            for (let c = 0; c < block; c++) d += (x[i * k + b * block + c]! * (deq[c]! - vals[c]!)) / s[b * block + c]!;
            e += d * d;
          }
          return e;
        });
        const best = errs.reduce((bi, e, i) => (e < errs[bi]! * (1 - 1e-9) ? i : bi), 0);
        expect(got.ratio[r * (k / block) + b]).toBeCloseTo(ratios[best]!, 6);
        const want = refBlock(vals, bits, ratios[best]!);
        expect([...got.codes.subarray(r * k + b * block, r * k + (b + 1) * block)]).toEqual(want.q);
        if (best > 0) clipped++;
      }
    expect(clipped).toBeGreaterThan(0); // at 2 bits, clipping pays somewhere
    // With ratio 1 alone: the codes the ONNX writer stores for the scaled weight.
    const plain = clipSearch(scaled, n, k, s, h, bits, block, [1]);
    const rtn = quantizeBlockWeights('w', scaled, [n, k], defaultPlan('dynamic', { bits, granularity: 'block', blockSize: block }), 1);
    expect([...plain.codes]).toEqual([...rtn.codes]);
    expect([...plain.dequantized]).toEqual([...dequantizeTensor(rtn.codes, [n, k], rtn.params)]);
  });
});
