// `quantize --method awq` end to end: option checks before any work; on the trained character
// transformer (fixtures/lm, PyTorch export) AWQ's written MatMulNBits files, measured in onnxruntime on
// held-out text, have lower perplexity than round-to-nearest's at 4 bits in blocks of 128 and 2 bits in
// blocks of 32, calibrated on 32 windows of the training text to keep CI near a minute (bench/gptq.js,
// figure 10, runs 128 windows and reports the ratio to RTN's increase). The report names every weight:
// scaled ones with the node their scales folded into, fc2 (after gelu) unscaled with the reason.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fixture, tempDir } from '../helpers.js';
import { againstRtn } from '../lm/measure.js';

const model = fixture('lm', 'char-transformer.onnx');
const train = fixture('lm', 'moby-train.txt');
const heldOut = fixture('lm', 'moby-valid.txt');
const dir = tempDir();

interface Report {
  method: string;
  awq: { samples: number; rtnLoss: number; loss: number; lossReduction: number; layers: { weight: string; nodes: string[]; method: string; alpha: number; foldedInto?: string; unscaled?: string; rtnLoss: number; awqLoss: number; clippedBlocks: number }[] };
}

describe('quantize --method awq', () => {
  it.each([
    [['--method', 'awq', '--bits', '4', '--granularity', 'block'], '--method awq needs --calibration'],
    [['--method', 'awq', '--bits', '4', '--calibration', train], '--method awq applies to block-wise weights'],
    [['--method', 'awq', '--bits', '4', '--granularity', 'block', '--calibration', train, '--damp', '0.1'], '--damp 0.1 has no effect without --method gptq'],
  ])('refuses %j before any work: exit 2, one line', (flags, message) => {
    const r = cli(['quantize', model, '-o', join(dir, 'never.onnx'), ...flags]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('char transformer, 4-bit blocks of 128 and 2-bit blocks of 32: perplexity below RTN\'s (onnxruntime, held-out text)', async () => {
    const runs = await againstRtn<Report>('awq', model, dir, [{ bits: 4, block: 128 }, { bits: 2, block: 32 }], train, 32, heldOut);
    runs.forEach(({ float, rtn, quantized: awq, report }) => {
      expect(awq.runtime).toBe('onnxruntime');
      expect(rtn.perplexity - float.perplexity).toBeGreaterThan(0.05); // RTN does lose something to improve on
      expect(awq.perplexity).toBeLessThan(rtn.perplexity);
      const a = report.awq;
      expect(a.samples).toBe(32);
      expect(a.layers).toHaveLength(9);
      expect(a.loss).toBeLessThan(a.rtnLoss);
      for (const l of a.layers) {
        if (l.nodes[0]!.includes('fc2')) expect(l.unscaled).toMatch(/gelu/);
        if (l.foldedInto) expect(l.alpha).toBeGreaterThan(0);
        if (l.method === 'awq') expect(l.awqLoss).toBeLessThan(l.rtnLoss * (l.foldedInto ? 1.5 : 1)); // one s serves a group; clipping only where it lowers the loss
      }
      expect(a.layers.filter((l) => l.foldedInto).length).toBeGreaterThan(2);
    });
  }, 300_000);
});
