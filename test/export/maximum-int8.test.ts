// TFLite's int8 MAXIMUM and MINIMUM compare raw codes, so their inputs and output must share one scale
// and zero point (issue 16: openWakeWord's 19 MAXIMUMs had three). A model whose Max/Min operands have
// different ranges (two convolutions of different gain, a constant outside one of them), written as
// full-integer TFLite and run in LiteRT; onnxruntime on the float source is the reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { exportTflite } from '../../src/export/tflite/index.js';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { DTYPES } from '../../src/ir/dtype.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { noise, tempDir } from '../helpers.js';
import { conv3x3, convModel, floats, worstOfRange } from './conv-models.js';

function model(): Uint8Array {
  return convModel('maxmin', 3, 2, [
    floats('w1', [4, 3, 3, 3], noise(108, 1)),
    floats('b1', [4], [0.5, -0.5, 1, 0]),
    floats('w2', [4, 3, 3, 3], noise(108, 2).map((v) => v * 0.2)),
    floats('b2', [4], [0.1, 0.2, 0.3, 0.4]),
    floats('w3', [2, 4, 3, 3], noise(72, 3)),
    floats('b3', [2], [0.1, -0.2]),
    floats('floor', [], [-2.5]),
  ], [
    conv3x3('conv1', 'x', 'w1', 'b1', 'h'),
    conv3x3('conv2', 'x', 'w2', 'b2', 'g'),
    { opType: 'Max', name: 'max', input: ['h', 'floor'], output: ['a'] },
    { opType: 'Min', name: 'min', input: ['a', 'g'], output: ['m'] },
    conv3x3('conv3', 'm', 'w3', 'b3', 'y'),
  ]);
}

it('int8 MAXIMUM/MINIMUM run on operands at the output scale and agree with onnxruntime on the float model', async () => {
  const bytes = model();
  const file = join(tempDir(), 'maxmin.onnx');
  writeFileSync(file, bytes);
  const graph = readOnnxModel(file, bytes);
  const calibration = { x: noise(64 * 192, 4).map((v) => v * 3), shape: [64, 3, 8, 8], source: 'noise' };
  const { graph: q, plan } = await quantizeModel(graph, { mode: 'int8', calibration });

  const lowered = lowerToTflite(q, 'maxmin.tflite', { quant: plan });
  const ops = lowered.operators.filter((o) => o.op === OP.MAXIMUM || o.op === OP.MINIMUM);
  expect(ops).toHaveLength(2);
  for (const o of ops) {
    const params = [...o.inputs, ...o.outputs].map((t) => lowered.tensors[t]!);
    for (const p of params) expect(p.type).toBe(DTYPES.int8.tflite);
    const [first] = params;
    for (const p of params) expect([p.quant!.scale[0], p.quant!.zeroPoint[0]]).toEqual([first!.quant!.scale[0], first!.quant!.zeroPoint[0]]);
  }

  const x = noise(192, 5).map((v) => v * 3);
  const worst = await worstOfRange(bytes, exportTflite(q, 'maxmin.tflite', { quant: plan }), x, 3);
  expect(worst).toBeLessThan(0.05);
});
