// GPTQ's update rule against PyTorch: fixtures/goldens/gptq-torch.json, made by
// fixtures/goldens/gptq-torch.py (Algorithm 1 in float64 torch: cholesky_inverse, upper Cholesky
// factor, lazy batches as one matrix product), on one fixed-seed layer with a dead input feature.
// Codes, block scales and zero points must agree; a float rounding difference may flip a code that
// sits on a rounding boundary, nothing more.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gptq } from '../../src/quantize/gptq.js';
import { defaultPlan, quantizeBlockWeights } from '../../src/quantize/plan.js';

interface Case {
  bits: number;
  blockSize: number;
  lazyColumns: number;
  damp: number;
  actOrder: boolean;
  codes: number[];
  scale: number[];
  zeroPoint: number[];
}

const golden = JSON.parse(readFileSync(new URL('../../fixtures/goldens/gptq-torch.json', import.meta.url), 'utf8')) as { rows: number; cols: number; samples: number; x: number[]; w: number[]; cases: Case[] };
const { rows, cols, samples } = golden;
const x = Float32Array.from(golden.x);
const w = Float32Array.from(golden.w);
// H = 2XᵀX in float64, as the script computes it.
const h = new Float64Array(cols * cols);
for (let s = 0; s < samples; s++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j]! += 2 * x[s * cols + i]! * x[s * cols + j]!;

describe('GPTQ against PyTorch', () => {
  it.each(golden.cases.map((c) => [`${c.bits} bits, blocks of ${c.blockSize}, lazy batches of ${c.lazyColumns}, damp ${c.damp}${c.actOrder ? ', act-order' : ''}`, c] as const))('%s', (_, c) => {
    const g = gptq(w, rows, cols, h, { bits: c.bits, blockSize: c.blockSize, damp: c.damp, lazyColumns: c.lazyColumns, actOrder: c.actOrder });
    const differing = g.codes.reduce((n, v, i) => n + (v !== c.codes[i] ? 1 : 0), 0);
    expect(differing).toBeLessThanOrEqual(1);
    // Block parameters of later blocks follow from the updated columns: equal when the codes are.
    if (differing === 0) {
      expect(Array.from(g.scale)).toEqual(Array.from(Float32Array.from(c.scale)));
      expect(Array.from(g.zeroPoint)).toEqual(c.zeroPoint);
    }
    // Not round-to-nearest: the updates moved many codes (otherwise this would test little).
    const rtn = quantizeBlockWeights('w', w, [rows, cols], defaultPlan('dynamic', { bits: c.bits, blockSize: c.blockSize }), 1);
    expect(c.codes.filter((v, i) => v !== rtn.codes[i]).length).toBeGreaterThan(0.1 * rows * cols);
  });
});
