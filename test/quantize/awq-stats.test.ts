// The calibration statistics share one batch loop (observeBatches): a dynamic-batch graph whose Reshape
// fixes the batch at 1 fails on a batch of several, and the loop goes on one sample at a time without
// counting the failed batch. GPTQ's 2XᵀX and AWQ's Σ|x| per channel of such a graph equal the formulas
// over every sample.
import { expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import { collectHessians } from '../../src/quantize/hessian.js';
import { noise } from '../helpers.js';

it('collects 2XᵀX and Σ|x| of a graph whose Reshape fixes the batch at 1, one sample at a time', async () => {
  const b = new GraphBuilder('viewone');
  const x = b.addInput('x', 'float32', ['batch', 4, 4]);
  const flat = b.add1('reshape', [x], { shape: [1, 16] }, { name: 'view' });
  const y = b.add1('dense', [flat, b.addConstant({ name: 'w', dtype: 'float32', shape: [16, 8], data: noise(128, 1) })], {}, { name: 'fc' });
  const graph = b.build('viewone', 'edgelm', [y]);
  const n = 10;
  const data = { x: noise(n * 16, 2), shape: [n, 4, 4], source: 'noise' };
  const st = (await collectHessians(graph, data, new Map([[flat, 16]]), { batchSize: 4, absSum: true })).get(flat)!;
  expect(st.rows).toBe(n);
  let worst = 0;
  for (let i = 0; i < 16; i++) {
    let abs = 0;
    for (let r = 0; r < n; r++) abs += Math.abs(data.x[r * 16 + i]!);
    worst = Math.max(worst, Math.abs(st.absSum![i]! - abs) / abs);
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += 2 * data.x[r * 16 + i]! * data.x[r * 16 + j]!;
      worst = Math.max(worst, Math.abs(st.h[i * 16 + j]! - s) / Math.max(1e-3, Math.abs(s)));
    }
  }
  expect(worst).toBeLessThan(1e-5);
});
