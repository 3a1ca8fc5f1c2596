// `quantize --method gptq` end to end: option checks before any work; on the trained character
// transformer (fixtures/lm, PyTorch export) GPTQ's held-out perplexity increase over float, measured
// in onnxruntime on the written MatMulNBits file, is a fraction of round-to-nearest's (issue 15's
// target at 2 bits in blocks of 32: ≤ 0.5×). To stay near 30 s, CI runs that configuration on 32
// calibration windows of the training text; bench/gptq.js (figure 10) runs both of the issue's
// targets (also ≤ 0.6× at 4 bits in blocks of 128) on its 128 windows.
// A layer whose input is always zero gains nothing from GPTQ: it keeps round-to-nearest, and the
// report says so; the per-layer report measures GPTQ's codes; the collected statistics of a layer fed by the input are 2XᵀX by the formula.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/ir/builder.js';
import { collectHessians } from '../../src/quantize/hessian.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { layerErrors } from '../../src/quantize/layer-error.js';
import { prng } from '../../src/train/loop.js';
import { cli, fixture, tempDir } from '../helpers.js';
import { againstRtn } from '../lm/measure.js';

const model = fixture('lm', 'char-transformer.onnx');
const train = fixture('lm', 'moby-train.txt');
const heldOut = fixture('lm', 'moby-valid.txt');
const dir = tempDir();

interface Report {
  method: string;
  gptq: { method: string; samples: number; lossReduction: number; rtnLoss: number; loss: number; layers: { weight: string; method: string; rtnLoss: number; gptqLoss?: number; fallback?: string }[] };
}

describe('quantize --method gptq', () => {
  it.each([
    [['--method', 'gptq', '--bits', '4', '--granularity', 'block'], '--method gptq needs --calibration'],
    [['--method', 'gptq', '--bits', '4', '--calibration', train], '--granularity block'],
    [['--method', 'bogus'], '--method'],
    [['--damp', '0.05', '--bits', '4', '--granularity', 'block'], '--damp 0.05 has no effect without --method gptq'],
    [['--act-order'], '--act-order has no effect'],
    [['--method', 'gptq', '--bits', '4', '--granularity', 'block', '--calibration', train, '--damp', '2'], '--damp'],
  ])('refuses %j before any work: exit 2, one line', (flags, message) => {
    const r = cli(['quantize', model, '-o', join(dir, 'never.onnx'), ...flags]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('char transformer, 2-bit blocks of 32: perplexity increase ≤ 0.5× RTN\'s (onnxruntime, held-out text)', async () => {
    const bound = 0.5;
    const runs = await againstRtn<Report>('gptq', model, dir, [{ bits: 2, block: 32 }], train, 32, heldOut);
    runs.forEach(({ float, rtn, quantized: gptq, report }) => {
      expect(gptq.runtime).toBe('onnxruntime');
      expect(rtn.perplexity - float.perplexity).toBeGreaterThan(0.05); // RTN does lose something to improve on
      expect(gptq.perplexity - float.perplexity).toBeLessThanOrEqual(bound * (rtn.perplexity - float.perplexity));
      const g = report.gptq;
      expect(g.samples).toBe(32);
      expect(g.layers).toHaveLength(9); // qkv, proj, fc1, fc2 of two blocks, and the head
      for (const l of g.layers) expect(l.method === 'gptq' ? l.gptqLoss! < l.rtnLoss : l.fallback).toBeTruthy();
      expect(g.lossReduction).toBeGreaterThan(0.3);
      expect(g.lossReduction).toBeCloseTo(1 - g.loss / g.rtnLoss, 6); // JSON numbers are rounded
    });
  }, 180_000);

  it('keeps round-to-nearest where GPTQ cannot lower the calibration loss (a layer fed zeros), and says so', async () => {
    const rand = prng(3);
    const b = new GraphBuilder('dead-layer');
    const x = b.addInput('x', 'float32', ['batch', 64]);
    const w = (name: string, sign: number) => b.addConstant({ name, dtype: 'float32', shape: [64, 64], data: Float32Array.from({ length: 64 * 64 }, () => sign * rand()) });
    const live = b.add1('dense', [x, w('live.weight', 1)], {}, { name: 'live' });
    const dead = b.add1('dense', [b.add1('relu', [b.add1('dense', [x, w('neg.weight', -1)], {}, { name: 'neg' })], {}, { name: 'zero' }), w('dead.weight', 1)], {}, { name: 'dead' });
    const graph = b.build('dead-layer', 'edgelm', [b.add1('add', [live, dead], {}, { name: 'sum' })]);
    const data = { x: Float32Array.from({ length: 48 * 64 }, () => rand()), shape: [48, 64], source: 'uniform [0, 1)' };
    const { plan, gptq } = await quantizeModel(graph, { bits: 4, granularity: 'block', blockSize: 16, method: 'gptq', calibration: data });
    const byWeight = new Map(gptq!.layers.map((l) => [l.weight, l]));
    expect(byWeight.get('dead.weight')).toMatchObject({ method: 'rtn', rtnLoss: 0, gptqLoss: 0, fallback: 'GPTQ did not lower the calibration loss' });
    expect(byWeight.get('live.weight')!.method).toBe('gptq');
    expect([...plan.blockWeights!.keys()].sort()).toEqual(['live.weight', 'neg.weight']);
    // The per-layer report measures the codes written: GPTQ's output error on its calibration data is lower.
    const sqnr = async (p: typeof plan) => new Map((await layerErrors(graph, p, 'onnx', data)).map((e) => [e.node, e.sqnrDb]));
    const [withGptq, rtn] = [await sqnr(plan), await sqnr({ ...plan, blockWeights: new Map() })];
    expect(withGptq.get('live')!).toBeGreaterThan(rtn.get('live')! + 1);
    expect(withGptq.get('dead')).toBe(rtn.get('dead'));
    // The statistics of the layers fed by the input: 2XᵀX of the samples, by the formula in float64.
    const h = (await collectHessians(graph, data, new Map([[x, 64]]), { batchSize: 10 })).get(x)!;
    expect(h.rows).toBe(48);
    let worst = 0;
    for (let i = 0; i < 64; i++)
      for (let j = 0; j < 64; j++) {
        let s = 0;
        for (let r = 0; r < 48; r++) s += 2 * data.x[r * 64 + i]! * data.x[r * 64 + j]!;
        worst = Math.max(worst, Math.abs(h.h[i * 64 + j]! - s) / Math.abs(s));
      }
    expect(worst).toBeLessThan(1e-5); // float32 products within a batch
  }, 60_000);
});
