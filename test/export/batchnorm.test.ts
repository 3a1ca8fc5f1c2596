// TF.js stores quantized weights with one uint8 scale per tensor. Folding a batch norm whose factors
// span decades into that kernel leaves its small channels a few codes (issue 16: MobileNetV2's
// depthwise kernels at 6.7 dB, cosine 0.794), so the writer keeps such a batch norm as Mul/Add.
// Reference: onnxruntime on the float source; each output channel's SQNR is measured in TF.js.
// Float TFLite folds every batch norm (exact up to float rounding, one MUL and one ADD fewer each).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { conv3x3, convModel, floats, ortOutput } from './conv-models.js';

const C = 8;

function model(gamma: number[]): Uint8Array {
  return convModel('bn', 3, C, [
    floats('w', [C, 3, 3, 3], noise(C * 27, 1)),
    floats('gamma', [C], gamma),
    floats('beta', [C], noise(C, 2)),
    floats('mean', [C], noise(C, 3).map((v) => v * 0.1)),
    floats('var', [C], new Float32Array(C).fill(1)),
  ], [conv3x3('conv', 'x', 'w', undefined, 'h'), { opType: 'BatchNormalization', name: 'bn', input: ['h', 'gamma', 'beta', 'mean', 'var'], output: ['y'] }]);
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
  const want = await ortOutput(bytes, x, 3);
  const rt = await openRuntime(join(dir, 'model.json'));
  const [got] = await rt.run(x, [1, 3, 8, 8]);
  rt.dispose();
  const json = JSON.parse(new TextDecoder().decode(files.files[0]!.bytes)) as { modelTopology: { node: { op: string }[] } };
  return { sqnr: worstChannelSqnr(got!, want), ops: json.modelTopology.node.map((n) => n.op) };
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
  const want = await ortOutput(bytes, x, 3);
  const lrt = await openLiteRt(exportTflite(graph, 'bn.tflite'), 'bn.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, 3, 8, 8] }]);
  lrt.dispose();
  expect(relError(got!.data as Float32Array, want)).toBeLessThan(1e-5);
});
