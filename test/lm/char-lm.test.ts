// The language-model acceptance checks on a PyTorch-exported character transformer of about 0.4 M
// parameters trained on Moby-Dick (fixtures/lm/train-char-transformer.py): each artifact is measured in
// the runtime that runs it on held-out chapters, next-character accuracy against the float model's.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync, fixture, tempDir } from '../helpers.js';
import { evalMeasured, quantizeMeasured, type Measured, type QuantizeJson } from './measure.js';

const model = fixture('lm', 'char-transformer.onnx');
const heldOut = fixture('lm', 'moby-valid.txt');
const dir = tempDir();

const quantize = (out: string, ...flags: string[]): Promise<QuantizeJson> => quantizeMeasured(model, join(dir, out), heldOut, ...flags);

describe('0.4 M-parameter character transformer (PyTorch export) on held-out text', () => {
  it('int8 weight-only ONNX: within 1 point of float at ≤ 35% of the size', async () => {
    const q = await quantize('q8.onnx');
    expect(q.eval.source.samples).toBeGreaterThan(1000); // every 64-character window of chapters 131–135
    expect(q.eval.source.accuracy).toBeGreaterThan(0.4); // a trained model, far above the 18% of the most frequent character
    expect(q.eval.source.accuracy - q.eval.artifact.accuracy).toBeLessThanOrEqual(0.01);
    expect(q.bytes / q.floatBytes).toBeLessThanOrEqual(0.35);
    expect(q.eval.artifact.perplexity / q.eval.source.perplexity).toBeLessThan(1.02);
  }, 120_000);

  it('4-bit blocks of 32 (MatMulNBits): within 3 points at ≤ 22% of the size', async () => {
    const q = await quantize('q4.onnx', '--bits', '4', '--granularity', 'block', '--block-size', '32');
    expect(q.eval.artifact.runtime).toBe('onnxruntime');
    expect(q.eval.source.accuracy - q.eval.artifact.accuracy).toBeLessThanOrEqual(0.03);
    expect(q.bytes / q.floatBytes).toBeLessThanOrEqual(0.22);
  }, 120_000);

  it('float TFLite within 0.2 point, int8 TFLite within 1 point, in LiteRT', async () => {
    const tfl = join(dir, 'float.tflite');
    const e = await cliAsync(['export', model, '-o', tfl]);
    expect(e.code, e.stderr).toBe(0);
    const [src, lite] = (await evalMeasured([model, tfl], heldOut)) as [Measured, Measured];
    expect(lite.runtime).toBe('litert');
    expect(Math.abs(src.accuracy - lite.accuracy)).toBeLessThanOrEqual(0.002);
    const q = await quantize('q8.tflite');
    expect(q.eval.source.accuracy - q.eval.artifact.accuracy).toBeLessThanOrEqual(0.01);
    expect(q.bytes / q.floatBytes).toBeLessThanOrEqual(0.35);
  }, 180_000);
});
