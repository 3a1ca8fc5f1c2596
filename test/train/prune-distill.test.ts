// Pruning and distillation as users run them, against PyTorch's choices and results on the same data
// (fixtures/goldens/train-torch.py, Debian python3-torch), with every artifact measured in its runtime.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTrain } from '../../fixtures/lib/mnist.js';
import { encodeNpz } from '../../src/data/npz.js';
import { readTfliteInfo } from '../../src/import/tflite/index.js';
import { globalUnstructuredMasks, l1UnstructuredMask, polynomialSparsity } from '../../src/prune/masks.js';
import { cli, cliAsync, fixture, tempDir } from '../helpers.js';

const TRAIN = fixture('data', 'mnist-train.npz');
const TEST = fixture('data', 'mnist-test.npz');
const dir = tempDir();
const out = (name: string): string => join(dir, name);

interface Golden {
  masks: { amount: number; weights: number[][]; layer: number[][]; global: number[][] }[];
  prune_global_90: { finetuned_accuracy: number };
  distill_784_30_10_10: { 'alpha_0.5': number[]; alpha_0: number[] };
}
const golden = JSON.parse(readFileSync(fixture('goldens', 'train-torch.json'), 'utf8')) as Golden;
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

async function run(args: string[]): Promise<Record<string, unknown>> {
  const r = await cliAsync([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function accuracyOf(model: string): Promise<number> {
  const r = await run(['eval', model, '--data', TEST]);
  return (r.models as { accuracy: number }[])[0]!.accuracy;
}

/** Float32 weights of a TFLite tensor, from the flatbuffer's own buffer. */
function tfliteWeights(file: string, name: string): { shape: number[]; data: Float32Array } {
  const t = readTfliteInfo(file).tensors.find((x) => x.name === name)!;
  return { shape: t.shape, data: new Float32Array(t.data.slice().buffer) };
}

describe('masks are exactly the ones torch.nn.utils.prune keeps', () => {
  it.each(golden.masks.map((c) => [c.amount, c] as const))('amount %s: l1_unstructured per layer and global_unstructured', (_, c) => {
    const ws = c.weights.map((w) => Float32Array.from(w));
    ws.forEach((w, i) => expect(Array.from(l1UnstructuredMask(w, c.amount))).toEqual(c.layer[i]));
    expect(globalUnstructuredMasks(ws, c.amount).map((m) => Array.from(m))).toEqual(c.global);
  });

  it('polynomial schedule follows Zhu & Gupta: s_f + (s_i − s_f)(1 − p)^3', async () => {
    expect(polynomialSparsity(0, 0, 0.9, 0, 100)).toBe(0);
    expect(polynomialSparsity(50, 0, 0.9, 0, 100)).toBeCloseTo(0.9 - 0.9 * 0.125, 12);
    expect(polynomialSparsity(100, 0, 0.9, 0, 100)).toBe(0.9);
    expect(polynomialSparsity(400, 0, 0.9, 0, 100)).toBe(0.9);
  });
});

describe('edgelm prune', () => {
  it('LeNet-300-100 at 90% global sparsity, fine-tuned 3 epochs: within 1 point of PyTorch, ≥ 85% sparse after export', async () => {
    const r = await run(['prune', fixture('models', 'mlp'), '-o', out('lenet-90.tflite'), '--sparsity', '0.9', '--scope', 'global', '--data', TRAIN, '--epochs', '3']);
    expect(r.sparsity).toBeCloseTo(0.9, 6);
    const acc = await accuracyOf(out('lenet-90.tflite'));
    expect(Math.abs(acc - golden.prune_global_90.finetuned_accuracy)).toBeLessThanOrEqual(0.01);
    // Sparsity measured in the written file: the three FULLY_CONNECTED weight tensors.
    let zeros = 0;
    let total = 0;
    for (const name of ['fc1/kernel', 'fc2/kernel', 'logits/kernel']) {
      const w = tfliteWeights(out('lenet-90.tflite'), name);
      total += w.data.length;
      for (const v of w.data) if (v === 0) zeros++;
    }
    expect(zeros / total).toBeGreaterThanOrEqual(0.85);
  });

  it('2:4 holds in every weight matrix of the output (TFLite [out, in] and ONNX [in, out])', async () => {
    await run(['prune', fixture('models', 'mlp'), '-o', out('lenet-24.tflite'), '--pattern', '2:4', '--sparsity', '0.5']);
    for (const name of ['fc1/kernel', 'fc2/kernel', 'logits/kernel']) {
      const { shape, data } = tfliteWeights(out('lenet-24.tflite'), name);
      const [rows, cols] = shape as [number, number];
      for (let r = 0; r < rows; r++)
        for (let g = 0; g < cols; g += 4) {
          let nz = 0;
          for (let j = 0; j < 4; j++) if (data[r * cols + g + j] !== 0) nz++;
          expect(nz).toBeLessThanOrEqual(2);
        }
    }
  });

  it('composes with quantize: zeros stay exact zeros in the int8 codes', async () => {
    await run(['prune', fixture('models', 'mlp'), '-o', out('lenet-80.onnx'), '--sparsity', '0.8']);
    await run(['quantize', out('lenet-80.onnx'), '-o', out('lenet-80-int8.tflite')]);
    const report = (await run(['inspect', out('lenet-80-int8.tflite')])) as unknown as { tensors: { name: string; dtype: string; sparsity: number }[] };
    const kernels = report.tensors.filter((t) => t.dtype === 'int8');
    expect(kernels.length).toBe(3);
    for (const k of kernels) expect(k.sparsity).toBeCloseTo(0.8, 2);
  });

  it('polynomial schedule ends at the target sparsity', async () => {
    const r = await run(['prune', fixture('models', 'mlp'), '-o', out('lenet-poly.onnx'), '--sparsity', '0.75', '--schedule', 'polynomial', '--data', TRAIN, '--epochs', '1']);
    expect(r.sparsity).toBeCloseTo(0.75, 3);
  });

  it('channel pattern writes a smaller dense CNN that still runs in LiteRT', async () => {
    const r = await run(['prune', fixture('models', 'cnn-nchw.onnx'), '-o', out('cnn-ch.tflite'), '--pattern', 'channel', '--sparsity', '0.5', '--data', TRAIN, '--epochs', '1']);
    // Hidden channels halved: conv and fc weights shrink to about a quarter or half.
    expect(r.weightsAfter as number).toBeLessThan(0.3 * (r.weightsBefore as number));
    expect(await accuracyOf(out('cnn-ch.tflite'))).toBeGreaterThan(0.9);
  });
});

describe('edgelm distill', () => {
  it('784-30-10-10 student (T = 2, α = 0.5, 20 epochs): within 1 point of PyTorch, at least as good as α = 0', async () => {
    // lr 3e-3 as in the PyTorch golden (see train-torch.py: at 1e-3 the two tie within seed noise in both).
    const student = async (alpha: string): Promise<number> => {
      await run(['distill', '--teacher', fixture('models', 'mlp'), '--student-width', '0.1', '--data', TRAIN, '-o', out(`student-${alpha}.onnx`), '--epochs', '20', '--temperature', '2', '--alpha', alpha, '--lr', '0.003']);
      return await accuracyOf(out(`student-${alpha}.onnx`));
    };
    const kd = await student('0.5');
    const hard = await student('0');
    expect(Math.abs(kd - mean(golden.distill_784_30_10_10['alpha_0.5']))).toBeLessThanOrEqual(0.01);
    expect(kd).toBeGreaterThanOrEqual(hard);
  });

  it('a small CNN student trains 3 epochs over 8,000 digits in under 3 minutes, ≥ 90%, and exports to TFLite', async () => {
    const s = buildTrain(8000);
    const data = out('mnist-8000.npz');
    writeFileSync(data, encodeNpz({ x: { dtype: 'float32', shape: [s.n, 28, 28, 1], data: s.x }, y: { dtype: 'int32', shape: [s.n], data: s.y } }));
    const start = Date.now();
    const r = await run(['distill', '--teacher', fixture('models', 'cnn'), '--student-width', '0.5', '--data', data, '-o', out('cnn-student.tflite'), '--epochs', '3']);
    const seconds = (Date.now() - start) / 1000;
    expect(seconds).toBeLessThan(180);
    expect(r.studentParams as number).toBeLessThan(0.6 * (r.teacherParams as number));
    expect(await accuracyOf(out('cnn-student.tflite'))).toBeGreaterThanOrEqual(0.9);
  });

  it('a resumed run ends with the same weights as an uninterrupted one', async () => {
    const args = (o: string, epochs: string, extra: string[] = []): string[] => ['distill', '--teacher', fixture('models', 'mlp'), '--student-width', '0.1', '--data', TRAIN, '-o', o, '--epochs', epochs, '--seed', '5', ...extra];
    await run(args(out('full.onnx'), '2'));
    await run(args(out('half.onnx'), '1', ['--checkpoint', out('ckpt')]));
    await run(args(out('resumed.onnx'), '2', ['--checkpoint', out('ckpt'), '--resume']));
    expect(readFileSync(out('resumed.onnx')).equals(readFileSync(out('full.onnx')))).toBe(true);
  });

  it('refuses a checkpoint of another run', async () => {
    const r = await cliAsync(['distill', '--teacher', fixture('models', 'mlp'), '--student-width', '0.2', '--data', TRAIN, '-o', out('other.onnx'), '--epochs', '2', '--checkpoint', out('ckpt'), '--resume']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/different run/);
  });
});
