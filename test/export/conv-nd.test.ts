// Convolution and pooling beyond 2-D NCHW with constant weights: PyTorch models (fixtures/build-conv-nd.py:
// Conv1d and pools of a keyword spotter, GoogLeNet's ceil-mode pools, dilated ConvTranspose2d,
// ConvTranspose1d, 3-D pools, InstanceNorm2d, dilated MaxPool2d, replicate/reflect pads the exporter
// computes in the graph, Conv3d + ConvTranspose3d) and ONNX-built ones (LRN, MVN,
// run-time conv weights, Pad edge and wrap). onnxruntime on the source is the reference for the executor, the ONNX
// export and the TFLite export in LiteRT; every model has a run-time batch, run at batch 3.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Tf } from '../../src/ir/op.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { maxRelError, readOnnxBytes, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const FIXTURES = join(import.meta.dirname, '../../fixtures/models/conv-nd');

/** Distinct, non-monotonic values so that a wrong tap, window or divisor shows. */
const values = (n: number, seed = 1.7): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed) * 3 + ((i * 7) % 5) - 2);

interface Feed {
  data: Float32Array;
  shape: number[];
}

async function runOrt(bytes: Uint8Array, feeds: Feed[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run(Object.fromEntries(feeds.map((f, i) => [s.inputNames[i]!, new ort.Tensor('float32', f.data, f.shape)])));
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}


const dir = tempDir();
const read = (bytes: Uint8Array, name: string): ReturnType<typeof readOnnxModel> => readOnnxBytes(bytes, dir, name);

const dims = (shape: (number | string)[]) => ({ dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
const value = (name: string, shape: (number | string)[]) => ({ name, type: { tensorType: { elemType: 1, shape: dims(shape) } } });
const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });

/** A one-node opset-17 model; `inputs` are graph inputs (their shapes), output 'y'. */
function nodeModel(op: string, inputs: [string, (number | string)[]][], y: (number | string)[], attribute: object[], initializer: object[] = [], extraInputs: string[] = []): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: op, input: inputs.map(([n, s]) => value(n, s)), output: [value('y', y)], initializer, node: [{ opType: op, name: op.toLowerCase(), input: [...inputs.map(([n]) => n), ...extraInputs], output: ['y'], attribute }] },
  }).finish();
}

describe('convolution and pooling in 1-D, 3-D, with ceil mode, dilation and run-time weights', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  /** Executor, ONNX export and TFLite export against onnxruntime on the source, at the feeds' shapes. */
  async function check(bytes: Uint8Array, name: string, feeds: Feed[]): Promise<void> {
    const want = await runOrt(bytes, feeds);
    const graph = read(bytes, name);
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run(Object.fromEntries(graph.inputs.map((v, i) => [v.name, tf.tensor(feeds[i]!.data, feeds[i]!.shape)])));
    expect(maxRelError(y!.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
    y!.dispose();
    ex.dispose();
    expect(maxRelError(await runOrt(exportOnnx(graph, `${name}.onnx`).model, feeds), want)).toBeLessThan(1e-5);
    const lrt = await openLiteRt(exportTflite(graph, `${name}.tflite`, { batchSize: feeds[0]!.shape[0] }), `${name}.tflite`);
    try {
      const [got] = await lrt.run(feeds);
      expect(maxRelError(got!.data as Float32Array, want)).toBeLessThan(1e-5);
    } finally {
      lrt.dispose();
    }
  }

  const TORCH: [string, number[]][] = [
    ['kws-conv1d', [3, 4, 23]],
    ['inception-pool-ceil', [3, 3, 14, 13]],
    ['convtranspose2d-dilated', [3, 3, 5, 6]],
    ['convtranspose1d', [3, 4, 7]],
    ['pool3d', [3, 2, 5, 6, 7]],
    ['norms', [3, 4, 7, 9]],
    ['pads-replicate', [3, 3, 6, 7]],
    ['conv3d', [3, 3, 5, 6, 7]],
  ];
  for (const [name, shape] of TORCH) {
    it(`PyTorch ${name} (dynamic batch, batch 3): executor, ONNX and TFLite exports match onnxruntime`, async () => {
      const bytes = new Uint8Array(readFileSync(join(FIXTURES, `${name}.onnx`)));
      const graph = read(bytes, name);
      expect(graph.inputs[0]!.shape[0]).toBe('batch');
      await check(bytes, name, [{ data: values(shape.reduce((p, d) => p * d, 1)), shape }]);
    });
  }

  it('LRN (size 5 over 6 channels, bias 2): all three match onnxruntime', async () => {
    const bytes = nodeModel('LRN', [['x', ['N', 6, 3, 4]]], ['N', 6, 3, 4], [{ name: 'size', type: 2, i: 5 }, { name: 'alpha', type: 1, f: 0.02 }, { name: 'beta', type: 1, f: 0.6 }, { name: 'bias', type: 1, f: 2 }]);
    await check(bytes, 'lrn', [{ data: values(144), shape: [2, 6, 3, 4] }]);
  });

  it('MeanVarianceNormalization over axes [0, 2, 3]: all three match onnxruntime', async () => {
    const bytes = nodeModel('MeanVarianceNormalization', [['x', [2, 3, 4, 5]]], [2, 3, 4, 5], []);
    await check(bytes, 'mvn', [{ data: values(120), shape: [2, 3, 4, 5] }]);
  });

  it('Conv with run-time weights and bias (strided, grouped, asymmetric pads): all three match onnxruntime', async () => {
    const bytes = nodeModel('Conv', [['x', ['N', 4, 7, 6]], ['w', [6, 2, 3, 2]], ['b', [6]]], ['N', 6, 4, 3], [ints('strides', [2, 2]), ints('pads', [1, 0, 1, 1]), { name: 'group', type: 2, i: 2 }]);
    await check(bytes, 'conv-rt', [{ data: values(2 * 4 * 42), shape: [2, 4, 7, 6] }, { data: values(72, 0.9), shape: [6, 2, 3, 2] }, { data: values(6, 2.3), shape: [6] }]);
  });

  it('Conv1d with run-time weights: all three match onnxruntime', async () => {
    const bytes = nodeModel('Conv', [['x', ['N', 3, 11]], ['w', [5, 3, 4]]], ['N', 5, 10], [ints('pads', [2, 1]), ints('dilations', [1])]);
    await check(bytes, 'conv1d-rt', [{ data: values(66), shape: [2, 3, 11] }, { data: values(60, 0.7), shape: [5, 3, 4] }]);
  });

  it('ConvTranspose with run-time weights, strides and output_padding: all three match onnxruntime', async () => {
    const bytes = nodeModel('ConvTranspose', [['x', ['N', 3, 4, 5]], ['w', [3, 2, 3, 3]]], ['N', 2, 10, 11], [ints('strides', [2, 2]), ints('output_padding', [1, 0]), ints('pads', [0, 0, 0, 0])]);
    await check(bytes, 'convt-rt', [{ data: values(120), shape: [2, 3, 4, 5] }, { data: values(54, 0.8), shape: [3, 2, 3, 3] }]);
  });

  it('MaxPool 2-D dilated with pads and ceil_mode; AveragePool ceil_mode with count_include_pad: all three match onnxruntime', async () => {
    const mp = nodeModel('MaxPool', [['x', ['N', 2, 9, 8]]], ['N', 2, 4, 4], [ints('kernel_shape', [3, 2]), ints('strides', [2, 2]), ints('dilations', [2, 3]), ints('pads', [1, 1, 0, 1]), { name: 'ceil_mode', type: 2, i: 1 }]);
    await check(mp, 'maxpool-dil', [{ data: values(288), shape: [2, 2, 9, 8] }]);
    const ap = nodeModel('AveragePool', [['x', ['N', 2, 9, 8]]], ['N', 2, 5, 4], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 0]), { name: 'ceil_mode', type: 2, i: 1 }, { name: 'count_include_pad', type: 2, i: 1 }]);
    await check(ap, 'avgpool-ceil-incl', [{ data: values(288), shape: [2, 2, 9, 8] }]);
  });

  it('Pad edge and wrap (constant pads): all three match onnxruntime', async () => {
    for (const mode of ['edge', 'wrap']) {
      const pads = { name: 'pads', dataType: 7, dims: [8], int64Data: [0, 0, 2, 1, 0, 0, 1, 3] };
      const bytes = nodeModel('Pad', [['x', ['N', 2, 3, 4]]], ['N', 2, 6, 8], [{ name: 'mode', type: 3, s: new TextEncoder().encode(mode) }], [pads], ['pads']);
      await check(bytes, `pad-${mode}`, [{ data: values(48), shape: [2, 2, 3, 4] }]);
    }
  });
});
