// PyTorch exports with a dynamic batch axis often keep `x.view(1, -1)`: the input takes any batch, a
// Reshape fixes it at 1. int8 calibration batched the samples and failed ("Size(49152) must match the
// product of shape 1,1536"). It now falls back to one sample at a time (min/max do not depend on the
// batching), and so does the per-layer report; the int8 TFLite file is checked in LiteRT against onnxruntime on the float source.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { layerErrors } from '../../src/quantize/layer-error.js';
import { noise, tempDir } from '../helpers.js';
import { conv3x3, floats } from '../export/conv-models.js';

const { onnx } = onnxProto;

function model(): Uint8Array {
  const value = (name: string, dims: ({ dimValue: number } | { dimParam: string })[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims } } } });
  const graph = {
    name: 'viewone',
    input: [value('x', [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 8 }, { dimValue: 8 }])],
    output: [value('y', [{ dimValue: 1 }, { dimValue: 5 }])],
    initializer: [floats('w', [4, 3, 3, 3], noise(108, 1)), floats('b', [4], [0.1, 0, -0.1, 0.2]), floats('fc', [256, 5], noise(1280, 2).map((v) => v / 8)), { name: 'shape', dataType: 7, dims: [2], int64Data: [1, 256] }],
    node: [
      conv3x3('conv', 'x', 'w', 'b', 'h'),
      { opType: 'Relu', name: 'relu', input: ['h'], output: ['r'] },
      { opType: 'Reshape', name: 'view', input: ['r', 'shape'], output: ['flat'] },
      { opType: 'MatMul', name: 'fc', input: ['flat', 'fc'], output: ['y'] },
    ],
  };
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }).finish();
}

it('calibrates a dynamic-batch graph whose Reshape fixes the batch at 1, and the int8 file agrees with onnxruntime', async () => {
  const bytes = model();
  const file = join(tempDir(), 'viewone.onnx');
  writeFileSync(file, bytes);
  const calibration = { x: noise(16 * 192, 3), shape: [16, 3, 8, 8], source: 'noise' };
  const { graph, plan } = await quantizeModel(readOnnxModel(file, bytes), { mode: 'int8', calibration });
  const x = calibration.x.subarray(0, 192); // a calibrated sample: no clipping at the edges of the range
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const lrt = await openLiteRt(exportTflite(graph, 'viewone.tflite', { quant: plan }), 'viewone.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, 3, 8, 8] }]);
  lrt.dispose();
  const range = Math.max(...want) - Math.min(...want);
  for (let i = 0; i < 5; i++) expect(Math.abs((got!.data as Float32Array)[i]! - want[i]!) / range).toBeLessThan(0.05);

  // The per-layer report runs the same graph one sample at a time: int8 weights and inputs cost 25–50 dB.
  const errors = await layerErrors(graph, plan, 'tflite', calibration);
  expect(errors.map((e) => e.node)).toEqual(['h', 'y']) // IR nodes are named by their outputs;
  for (const e of errors) expect(e.sqnrDb).toBeGreaterThan(20);
});
