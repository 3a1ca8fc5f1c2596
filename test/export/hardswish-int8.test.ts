// Full-integer TFLite keeps HardSwish (MobileNetV3's activation) in int8: TFLite's HARD_SWISH has an
// int8 kernel, so no DEQUANTIZE/QUANTIZE pair around each one. A conv → HardSwish → conv model built
// here with onnx-proto; onnxruntime on the float source is the reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { exportTflite } from '../../src/export/tflite/index.js';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { DTYPES } from '../../src/ir/dtype.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { noise, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

function model(): Uint8Array {
  const vi = (name: string, c: number) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: c }, { dimValue: 8 }, { dimValue: 8 }] } } } });
  const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });
  const conv = (name: string, x: string, w: string, b: string, y: string) => ({ opType: 'Conv', name, input: [x, w, b], output: [y], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'hardswish',
      input: [vi('x', 3)],
      output: [vi('y', 2)],
      initializer: [
        { name: 'w1', dataType: 1, dims: [4, 3, 3, 3], floatData: [...noise(108, 1)] },
        { name: 'b1', dataType: 1, dims: [4], floatData: [0.5, -0.5, 1, 0] },
        { name: 'w2', dataType: 1, dims: [2, 4, 3, 3], floatData: [...noise(72, 2)] },
        { name: 'b2', dataType: 1, dims: [2], floatData: [0.1, -0.2] },
      ],
      node: [conv('conv1', 'x', 'w1', 'b1', 'h'), { opType: 'HardSwish', name: 'hardswish', input: ['h'], output: ['a'] }, conv('conv2', 'a', 'w2', 'b2', 'y')],
    },
  }).finish();
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
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const lrt = await openLiteRt(exportTflite(q, 'hardswish.tflite', { quant: plan }), 'hardswish.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, 3, 8, 8] }]);
  lrt.dispose();
  const range = Math.max(...want) - Math.min(...want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got!.data as Float32Array)[i]! - want[i]!));
  // Three int8 roundings (input, hidden, output) of a few steps each: well under 5% of the output range.
  expect(worst / range).toBeLessThan(0.05);
});
