// TFLite's int8 MAXIMUM and MINIMUM compare raw codes, so their inputs and output must share one scale
// and zero point (issue 16: openWakeWord's 19 MAXIMUMs had three). A model whose Max/Min operands have
// different ranges (two convolutions of different gain, a constant outside one of them), written as
// full-integer TFLite and run in LiteRT; onnxruntime on the float source is the reference.
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
      name: 'maxmin',
      input: [vi('x', 3)],
      output: [vi('y', 2)],
      initializer: [
        { name: 'w1', dataType: 1, dims: [4, 3, 3, 3], floatData: [...noise(108, 1)] },
        { name: 'b1', dataType: 1, dims: [4], floatData: [0.5, -0.5, 1, 0] },
        { name: 'w2', dataType: 1, dims: [4, 3, 3, 3], floatData: [...noise(108, 2).map((v) => v * 0.2)] },
        { name: 'b2', dataType: 1, dims: [4], floatData: [0.1, 0.2, 0.3, 0.4] },
        { name: 'w3', dataType: 1, dims: [2, 4, 3, 3], floatData: [...noise(72, 3)] },
        { name: 'b3', dataType: 1, dims: [2], floatData: [0.1, -0.2] },
        { name: 'floor', dataType: 1, dims: [], floatData: [-2.5] },
      ],
      node: [
        conv('conv1', 'x', 'w1', 'b1', 'h'),
        conv('conv2', 'x', 'w2', 'b2', 'g'),
        { opType: 'Max', name: 'max', input: ['h', 'floor'], output: ['a'] },
        { opType: 'Min', name: 'min', input: ['a', 'g'], output: ['m'] },
        conv('conv3', 'm', 'w3', 'b3', 'y'),
      ],
    },
  }).finish();
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
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const lrt = await openLiteRt(exportTflite(q, 'maxmin.tflite', { quant: plan }), 'maxmin.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, 3, 8, 8] }]);
  lrt.dispose();
  const range = Math.max(...want) - Math.min(...want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got!.data as Float32Array)[i]! - want[i]!));
  expect(worst / range).toBeLessThan(0.05);
});
