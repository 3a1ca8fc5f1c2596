// LogSoftmax and Hardmax before opset 13 work on the input flattened to 2-D at `axis`: a model built
// here with onnx-proto (opset 11, axis 1 of a rank-3 input with a run-time batch) against onnxruntime,
// in the executor, the ONNX export and the TFLite export.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;

function model(): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 4 }] } } } });
  const axis = [{ name: 'axis', type: 2, i: 1 }];
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 11 }],
    graph: {
      name: 'flattened',
      input: [vi('x')],
      output: [vi('log_probs'), vi('hard')],
      node: [
        { opType: 'LogSoftmax', name: 'logsoftmax', input: ['x'], output: ['log_probs'], attribute: axis },
        { opType: 'Hardmax', name: 'hardmax', input: ['x'], output: ['hard'], attribute: axis },
      ],
    },
  }).finish();
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
};

it('opset-11 LogSoftmax and Hardmax over axis 1 of [N, 3, 4] (the 12 trailing values together) match onnxruntime', async () => {
  const bytes = model();
  const file = join(tempDir(), 'flattened.onnx');
  writeFileSync(file, bytes);
  const shape = [2, 3, 4];
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 2.3) * 3);
  const runOrt = async (b: Uint8Array): Promise<Float32Array[]> => {
    const s = await ort.InferenceSession.create(b, { logSeverityLevel: 3 });
    const out = await s.run({ x: new ort.Tensor('float32', x, shape) });
    await s.release();
    return s.outputNames.map((n) => out[n]!.data as Float32Array);
  };
  const want = await runOrt(bytes);
  // One 1 per batch row among its 12 values: the flattened semantics, not a per-axis Hardmax (4 ones).
  expect(want[1]!.reduce((p, v) => p + v, 0)).toBe(2);

  const graph = readOnnxModel(file, bytes);
  const tf = await loadTf('wasm');
  const ex = new GraphExecutor(tf, graph);
  const outs = ex.run({ x: tf.tensor(x, shape) });
  outs.forEach((o, i) => close(o.dataSync() as Float32Array, want[i]!));
  tf.dispose(outs);
  ex.dispose();

  (await runOrt(exportOnnx(graph, 'flattened.onnx').model)).forEach((o, i) => close(o, want[i]!));

  const s = await openLiteRt(exportTflite(graph, 'flattened.tflite', { batchSize: 2 }), 'flattened.tflite');
  const got = await s.run([{ data: x, shape }]);
  s.dispose();
  const byName = s.outputs.map((o) => graph.outputs.findIndex((g) => g.name === o.name));
  got.forEach((o, i) => close(o.data as Float32Array, want[byName[i]!]!));
});
