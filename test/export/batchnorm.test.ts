// TF.js stores quantized weights with one uint8 scale per tensor. Folding a batch norm whose factors
// span decades into that kernel leaves its small channels a few codes (issue 16: MobileNetV2's
// depthwise kernels at 6.7 dB, cosine 0.794), so the writer keeps such a batch norm as Mul/Add.
// Reference: onnxruntime on the float source; each output channel's SQNR is measured in TF.js.
// Float TFLite folds every batch norm (exact up to float rounding, one MUL and one ADD fewer each).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { exportTfjs } from '../../src/export/tfjs/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { openRuntime } from '../../src/runtime/index.js';
import { noise, relError, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const C = 8;

function model(gamma: number[]): Uint8Array {
  const vi = (name: string, c: number) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: c }, { dimValue: 8 }, { dimValue: 8 }] } } } });
  const f = (name: string, dims: number[], v: ArrayLike<number>) => ({ name, dataType: 1, dims, floatData: [...Array.from(v)] });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'bn',
      input: [vi('x', 3)],
      output: [vi('y', C)],
      initializer: [
        f('w', [C, 3, 3, 3], noise(C * 27, 1)),
        f('gamma', [C], gamma),
        f('beta', [C], noise(C, 2)),
        f('mean', [C], noise(C, 3).map((v) => v * 0.1)),
        f('var', [C], new Float32Array(C).fill(1)),
      ],
      node: [
        { opType: 'Conv', name: 'conv', input: ['x', 'w'], output: ['h'], attribute: [{ name: 'kernel_shape', type: 7, ints: [3, 3] }, { name: 'pads', type: 7, ints: [1, 1, 1, 1] }] },
        { opType: 'BatchNormalization', name: 'bn', input: ['h', 'gamma', 'beta', 'mean', 'var'], output: ['y'] },
      ],
    },
  }).finish();
}

/** Lowest SQNR over the output channels of an NCHW output, in dB. */
function worstChannelSqnr(got: Float32Array, want: Float32Array): number {
  const hw = want.length / C;
  let worst = Infinity;
  for (let c = 0; c < C; c++) {
    let s = 0;
    let e = 0;
    for (let i = c * hw; i < (c + 1) * hw; i++) {
      s += want[i]! ** 2;
      e += (got[i]! - want[i]!) ** 2;
    }
    worst = Math.min(worst, 10 * Math.log10(s / e));
  }
  return worst;
}

async function dynamicTfjs(bytes: Uint8Array, name: string): Promise<{ sqnr: number; ops: string[] }> {
  const dir = join(tempDir(), name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'm.onnx'), bytes);
  const { graph, plan } = await quantizeModel(readOnnxModel(join(dir, 'm.onnx'), bytes), { mode: 'dynamic' });
  const files = exportTfjs(graph, join(dir, 'model.json'), plan);
  for (const f of files.files) writeFileSync(join(dir, f.name), f.bytes);
  const x = noise(192, 4);
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const rt = await openRuntime(join(dir, 'model.json'));
  const got = await rt.run(x, [1, 3, 8, 8]);
  rt.dispose();
  const json = JSON.parse(new TextDecoder().decode(files.files[0]!.bytes)) as { modelTopology: { node: { op: string }[] } };
  return { sqnr: worstChannelSqnr(got, want), ops: json.modelTopology.node.map((n) => n.op) };
}

it('keeps a batch norm whose factors span decades unfolded: every channel keeps its uint8 precision', async () => {
  const r = await dynamicTfjs(model([10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.003]), 'wide');
  expect(r.ops).toContain('AddV2');
  // uint8 per tensor on the unfolded kernel: about 40 dB on every channel (folded: under 10 dB on the smallest).
  expect(r.sqnr).toBeGreaterThan(30);
});

it('folds a batch norm with even factors into the kernel (no Mul/Add left), at the same precision', async () => {
  const r = await dynamicTfjs(model([1, 1.1, 0.9, 1.05, 0.95, 1, 1.02, 0.98]), 'even');
  expect(r.ops).not.toContain('AddV2');
  expect(r.sqnr).toBeGreaterThan(30);
});

it('float TFLite folds the batch norm into the convolution and matches onnxruntime', async () => {
  const bytes = model([10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.003]);
  const file = join(tempDir(), 'bn.onnx');
  writeFileSync(file, bytes);
  const graph = readOnnxModel(file, bytes);
  const ops = lowerToTflite(graph, 'bn.tflite').operators.map((o) => o.op);
  expect(ops).toContain(OP.CONV_2D);
  expect(ops).not.toContain(OP.MUL);
  expect(ops).not.toContain(OP.ADD);
  const x = noise(192, 4);
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  const lrt = await openLiteRt(exportTflite(graph, 'bn.tflite'), 'bn.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, 3, 8, 8] }]);
  lrt.dispose();
  expect(relError(got!.data as Float32Array, want)).toBeLessThan(1e-5);
});
