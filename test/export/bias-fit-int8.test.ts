// The integer kernels add a conv's bias as int32 at input_scale·weight_scale[c]. A channel whose weights
// are near zero but whose bias is not (a folded batch norm with γ ≈ 0, as in nsfwjs' MobileNetV2 bn_Conv1)
// overflowed int32 and quantize refused, asking for --exclude. The weight scale of such a channel is
// raised until the bias fits (as the TFLite converter does); its weights code to ~0, which they nearly
// are. Checked in LiteRT and onnxruntime against onnxruntime on the float source.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { noise, tempDir } from '../helpers.js';
import { conv3x3, convModel, floats, ortOutput, worstOfRange } from './conv-models.js';

// Channel 1's weights are ~1e-12, so its int8 scale is the smallest quantizeTensor gives (2^-23); with inputs
// in ±0.5 (scale ~0.004) a bias of 3 needs a code of ~6.4e9, past int32.
function model(): Uint8Array {
  const w = noise(4 * 3 * 9, 1);
  for (let i = 27; i < 54; i++) w[i]! *= 1e-12;
  return convModel('tinychannel', 3, 4, [floats('w', [4, 3, 3, 3], w), floats('b', [4], [0.3, 3, -0.4, 0.1])], [conv3x3('conv', 'x', 'w', 'b', 'y')]);
}

async function quantized() {
  const bytes = model();
  const file = join(tempDir(), 'tinychannel.onnx');
  writeFileSync(file, bytes);
  const graph = readOnnxModel(file, bytes);
  const calibration = { x: noise(32 * 192, 2).map((v) => v / 2), shape: [32, 3, 8, 8], source: 'noise' };
  return { bytes, ...(await quantizeModel(graph, { mode: 'int8', calibration })) };
}

it('int8 TFLite: a bias that would overflow int32 fits by raising its channel weight scale, and agrees with onnxruntime', async () => {
  const { bytes, graph, plan } = await quantized();
  const x = noise(192, 3).map((v) => v / 2);
  expect(await worstOfRange(bytes, exportTflite(graph, 'tinychannel.tflite', { quant: plan }), x, 3)).toBeLessThan(0.02);
});

it('int8 ONNX QDQ: the same channel keeps its bias (channel 1 reads 3 everywhere)', async () => {
  const { bytes, graph, plan } = await quantized();
  const x = noise(192, 3).map((v) => v / 2);
  const want = await ortOutput(bytes, x, 3);
  const s = await ort.InferenceSession.create(exportOnnx(graph, 'tinychannel.onnx', plan).model, { logSeverityLevel: 3 });
  const got = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const range = Math.max(...want) - Math.min(...want);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / range).toBeLessThan(0.02);
  for (let i = 64; i < 128; i++) expect(got[i]!).toBeCloseTo(3, 2);
});
