// The ONNX reader + TF.js executor must compute what onnxruntime computes on the same file.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { accuracy, argmax, fixture, mnistTest, relError } from '../helpers.js';

async function ortRun(path: string, name: string, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const out = await s.run({ [name]: new ort.Tensor('float32', data, dims) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

async function edgelmRun(path: string, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const graph = readOnnxModel(path);
  verifyGraph(graph);
  const tf = await loadTf('wasm');
  const ex = new GraphExecutor(tf, graph);
  const [y] = ex.run({ [graph.inputs[0]!.name]: tf.tensor(data, dims) });
  const out = y!.dataSync() as Float32Array;
  y!.dispose();
  ex.dispose();
  return out;
}

/** 16 real values per digit: a horizontal strip through the middle of each image, centred. */
function strips(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 16);
  for (let i = 0; i < n; i++) for (let j = 0; j < 16; j++) out[i * 16 + j] = x[i * 784 + 14 * 28 + 6 + j]! * 2 - 0.5;
  return out;
}

describe('ONNX reader matches onnxruntime on real MNIST digits', () => {
  it.each([
    ['lenet-300-100.onnx', 'input.1'],
    ['cnn-nchw.onnx', 'input'],
    ['lenet-external/lenet.onnx', 'input.1'],
  ])('%s: outputs within 1e-4 and the same accuracy', async (file, input) => {
    const { x, y, n } = await mnistTest(300);
    const dims = [n, 1, 28, 28]; // one channel: NCHW and NHWC bytes coincide
    const path = fixture('models', file);
    const want = await ortRun(path, input, x, dims);
    const got = await edgelmRun(path, x, dims);
    expect(relError(got, want)).toBeLessThan(1e-4);
    const acc = accuracy(argmax(want, 10), y);
    expect(acc).toBeGreaterThan(0.93);
    expect(accuracy(argmax(got, 10), y)).toBe(acc);
  });

  it.each([['ops-zoo.onnx'], ['mlp-opset11.onnx']])('%s: outputs within 1e-4', async (file) => {
    const { x, n } = await mnistTest(64);
    const data = strips(x, n);
    const path = fixture('models', file);
    const want = await ortRun(path, 'x', data, [n, 16]);
    const got = await edgelmRun(path, data, [n, 16]);
    expect(relError(got, want)).toBeLessThan(1e-4);
  });

  it('folds PyTorch shape subgraphs: no shape ops remain and the batch dim stays dynamic', () => {
    const g = readOnnxModel(fixture('models', 'lenet-300-100.onnx'));
    expect(g.nodes.map((n) => n.op)).toEqual(['reshape', 'dense', 'relu', 'dense', 'relu', 'dense']);
    expect(g.nodes[0]!.attrs.shape).toEqual([0, -1]);
    expect(g.inputs[0]!.shape).toEqual(['batch_size', 1, 28, 28]);
    expect(g.outputs[0]!.name).toBe('logits');
  });
});
