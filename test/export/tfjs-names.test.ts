// TF.js reads a node input `a:1` as output 1 of node `a`, so a GraphModel whose node names hold ':'
// (PyTorch's `onnx::Conv_7`, TF's `dense/BiasAdd:0`) loads but cannot run ("reading 'outputs'"), as
// openWakeWord's TF.js export did with exit 0. The writer renames those nodes; loadGraphModel runs the
// file and agrees with onnxruntime on the source.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { exportTfjs } from '../../src/export/tfjs/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openRuntime } from '../../src/runtime/index.js';
import { noise, tempDir } from '../helpers.js';
import { conv3x3, floats, nchw } from './conv-models.js';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

function model(): Uint8Array {
  const graph = {
    name: 'colons',
    input: [nchw('input:0', 3)],
    output: [nchw('y', 2)],
    initializer: [floats('onnx::Conv_1', [4, 3, 3, 3], noise(108, 1)), floats('onnx::Conv_2', [4], [0.1, -0.2, 0.3, 0]), floats('w2', [2, 4, 3, 3], noise(72, 2))],
    node: [
      conv3x3('/conv1/Conv', 'input:0', 'onnx::Conv_1', 'onnx::Conv_2', '/conv1/Conv_output_0'),
      { opType: 'Relu', name: 'relu:0', input: ['/conv1/Conv_output_0'], output: ['onnx::Relu:3'] },
      conv3x3('/conv2/Conv', 'onnx::Relu:3', 'w2', undefined, 'y'),
    ],
  };
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }).finish();
}

it('a GraphModel from values named with ":" runs in loadGraphModel and matches onnxruntime', async () => {
  const bytes = model();
  const dir = join(tempDir(), 'colons');
  mkdirSync(dir);
  writeFileSync(join(dir, 'm.onnx'), bytes);
  const files = exportTfjs(readOnnxModel(join(dir, 'm.onnx'), bytes), join(dir, 'model.json'));
  for (const f of files.files) writeFileSync(join(dir, f.name), f.bytes);
  const json = JSON.parse(new TextDecoder().decode(files.files[0]!.bytes)) as { modelTopology: { node: { name: string }[] } };
  for (const n of json.modelTopology.node) expect(n.name).not.toContain(':');
  const x = noise(192, 3);
  const want = await (async () => {
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const y = (await s.run({ 'input:0': new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
    await s.release();
    return y;
  })();
  const rt = await openRuntime(join(dir, 'model.json'));
  const [got] = await rt.run(x, [1, 3, 8, 8]);
  rt.dispose();
  for (let i = 0; i < want.length; i++) expect(got![i]!).toBeCloseTo(want[i]!, 4);
});
