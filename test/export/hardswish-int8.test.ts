// Full-integer TFLite keeps HardSwish (MobileNetV3's activation) in int8: TFLite's HARD_SWISH has an
// int8 kernel, so no DEQUANTIZE/QUANTIZE pair around each one. A conv → HardSwish → conv model built
// here with onnx-proto; onnxruntime on the float source is the reference.
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
  return convModel('hardswish', 3, 2, [
    floats('w1', [4, 3, 3, 3], noise(108, 1)),
    floats('b1', [4], [0.5, -0.5, 1, 0]),
    floats('w2', [2, 4, 3, 3], noise(72, 2)),
    floats('b2', [2], [0.1, -0.2]),
  ], [conv3x3('conv1', 'x', 'w1', 'b1', 'h'), { opType: 'HardSwish', name: 'hardswish', input: ['h'], output: ['a'] }, conv3x3('conv2', 'a', 'w2', 'b2', 'y')]);
}

it('int8 TFLite runs HARD_SWISH on int8 tensors and stays within quantization error of onnxruntime on the float model', async () => {
  const bytes = model();
  const file = join(tempDir(), 'hardswish.onnx');
  writeFileSync(file, bytes);
  const graph = readOnnxModel(file, bytes);
  const calibration = { x: noise(64 * 192, 3).map((v) => v * 3), shape: [64, 3, 8, 8], source: 'noise' };
  const { graph: q, plan } = await quantizeModel(graph, { mode: 'int8', calibration });

  const lowered = lowerToTflite(q, 'hardswish.tflite', { quant: plan });
  const hs = lowered.operators.filter((o) => o.op === OP.HARD_SWISH);
  expect(hs).toHaveLength(1);
  expect(lowered.tensors[hs[0]!.inputs[0]!]!.type).toBe(DTYPES.int8.tflite);
  expect(lowered.operators.filter((o) => o.op === OP.DEQUANTIZE)).toHaveLength(1); // the output edge only

  const x = noise(192, 4).map((v) => v * 3);
  const worst = await worstOfRange(bytes, exportTflite(q, 'hardswish.tflite', { quant: plan }), x, 3);
  // Three int8 roundings (input, hidden, output) of a few steps each: well under 5% of the output range.
  expect(worst).toBeLessThan(0.05);
});
