// --exclude with the name of a batch norm that int8 quantization folds into its convolution: the fused
// layer answers to the batch norm's output, so it stays float (before, the pattern was accepted and the
// convolution quantized anyway, as with nsfwjs' `--exclude bn_Conv1`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { DTYPES } from '../../src/ir/dtype.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { noise, tempDir } from '../helpers.js';
import { conv3x3, convModel, floats } from '../export/conv-models.js';

function model(): Uint8Array {
  return convModel('convbn', 3, 2, [
    floats('w1', [4, 3, 3, 3], noise(108, 1)),
    floats('gamma', [4], [1, 0.5, 2, 1]),
    floats('beta', [4], [0, 0.1, -0.1, 0.2]),
    floats('mean', [4], [0.1, 0, 0, -0.1]),
    floats('var', [4], [1, 2, 0.5, 1]),
    floats('w2', [2, 4, 3, 3], noise(72, 2)),
  ], [
    conv3x3('conv1', 'x', 'w1', undefined, 'h'),
    { opType: 'BatchNormalization', name: 'bn_conv1', input: ['h', 'gamma', 'beta', 'mean', 'var'], output: ['bn_conv1/out'] },
    conv3x3('conv2', 'bn_conv1/out', 'w2', undefined, 'y'),
  ]);
}

it('excluding a folded batch norm keeps its convolution in float; the other stays int8', async () => {
  const bytes = model();
  const file = join(tempDir(), 'convbn.onnx');
  writeFileSync(file, bytes);
  const calibration = { x: noise(16 * 192, 3), shape: [16, 3, 8, 8], source: 'noise' };
  const { graph, plan } = await quantizeModel(readOnnxModel(file, bytes), { mode: 'int8', calibration, exclude: ['bn_conv1'] });
  const lowered = lowerToTflite(graph, 'convbn.tflite', { quant: plan });
  const weightTypes = lowered.operators.filter((o) => o.op === OP.CONV_2D).map((o) => lowered.tensors[o.inputs[1]!]!.type);
  expect(weightTypes).toEqual([DTYPES.float32.tflite, DTYPES.int8.tflite]);
});
