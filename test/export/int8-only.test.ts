// --int8-only (the TFLite converter's TFLITE_BUILTINS_INT8): an int8 TFLite file where every op on
// activations runs on int8 tensors, or a refusal naming each op that would run in float between
// DEQUANTIZE and QUANTIZE (here a PRelu, which has no int8 lowering).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { DTYPES } from '../../src/ir/dtype.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { cli, noise, tempDir } from '../helpers.js';
import { conv3x3, convModel, floats, worstOfRange } from './conv-models.js';
import { exportTflite } from '../../src/export/tflite/index.js';

const dir = tempDir();
const calibration = { x: noise(16 * 192, 3), shape: [16, 3, 8, 8], source: 'noise' };

async function quantized(name: string, bytes: Uint8Array) {
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, bytes);
  return { file, ...(await quantizeModel(readOnnxModel(file, bytes), { mode: 'int8', calibration, int8Only: true })) };
}

it('a conv → relu → conv model: every operator between the input QUANTIZE and the output DEQUANTIZE is int8, and it agrees with onnxruntime', async () => {
  const bytes = convModel('allint8', 3, 2, [floats('w1', [4, 3, 3, 3], noise(108, 1)), floats('w2', [2, 4, 3, 3], noise(72, 2))], [
    conv3x3('conv1', 'x', 'w1', undefined, 'h'),
    { opType: 'Relu', name: 'relu', input: ['h'], output: ['r'] },
    conv3x3('conv2', 'r', 'w2', undefined, 'y'),
  ]);
  const { graph, plan } = await quantized('allint8', bytes);
  const m = lowerToTflite(graph, 'allint8.tflite', { quant: plan });
  const inner = m.operators.filter((o) => o.op !== OP.QUANTIZE && o.op !== OP.DEQUANTIZE);
  expect(inner.length).toBeGreaterThan(0);
  for (const o of inner) for (const t of [...o.inputs, ...o.outputs].filter((t) => t >= 0)) expect([DTYPES.int8.tflite, DTYPES.int32.tflite]).toContain(m.tensors[t]!.type);
  expect(m.operators.filter((o) => o.op === OP.DEQUANTIZE)).toHaveLength(1);
  expect(await worstOfRange(bytes, exportTflite(graph, 'allint8.tflite', { quant: plan }), calibration.x.subarray(0, 192), 3)).toBeLessThan(0.05);
});

it('a PRelu that would run in float is refused, naming it; a Concat of two ranges runs in int8 (its inputs requantized)', async () => {
  const bytes = convModel('prelu', 3, 2, [floats('w1', [2, 3, 3, 3], noise(54, 1)), floats('slope', [2, 1, 1], [0.25, 0.5])], [
    conv3x3('conv1', 'x', 'w1', undefined, 'a'),
    { opType: 'PRelu', name: 'prelu', input: ['a', 'slope'], output: ['y'] },
  ]);
  const { graph, plan } = await quantized('prelu', bytes);
  expect(() => lowerToTflite(graph, 'prelu.tflite', { quant: plan })).toThrow(/--int8-only: 1 op would run in float: y \(prelu: no int8 lowering\)/);
  const cat = convModel('concat', 3, 2, [floats('w1', [1, 3, 3, 3], noise(27, 1)), floats('w2', [1, 3, 3, 3], noise(27, 2).map((v) => v * 4))], [
    conv3x3('conv1', 'x', 'w1', undefined, 'a'),
    conv3x3('conv2', 'x', 'w2', undefined, 'b'),
    { opType: 'Concat', name: 'cat', input: ['a', 'b'], output: ['y'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
  ]);
  const c = await quantized('concat', cat);
  expect(await worstOfRange(cat, exportTflite(c.graph, 'concat.tflite', { quant: c.plan }), calibration.x.subarray(0, 192), 3)).toBeLessThan(0.05);
});

it('the CLI refuses --int8-only outside int8 TFLite before any work', () => {
  for (const args of [['--int8-only'], ['--mode', 'int8', '--int8-only', '--exclude', 'conv'], ['--mode', 'int8', '--int8-only', '--format', 'onnx']]) {
    const r = cli(['quantize', 'fixtures/models/cnn-nchw.onnx', '-o', join(dir, 'x.tflite'), '--calibration', 'fixtures/data/mnist-test.npz', ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--int8-only/);
  }
});
