// The LayersModel reader + executor must compute what TF.js's own LayersModel.predict computes.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type * as tfjs from '../tfjs-all.js';
import { loadTfAll } from '../tfjs-all.js';
import { readLayersModel } from '../../src/import/tfjs-layers/index.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { fileLoader, fileSaver } from '../../src/runtime/tfjs/io.js';
import { accuracy, argmax, fixture, mnistTest, relError, tempDir } from '../helpers.js';

async function compare(path: string, x: Float32Array, dims: number[]): Promise<{ got: Float32Array; want: Float32Array }> {
  const tf = await loadTfAll('wasm');
  const model = await tf.loadLayersModel(fileLoader(path));
  const input = tf.tensor(x, dims);
  const want = (model.predict(input) as tfjs.Tensor).dataSync() as Float32Array;
  const graph = readLayersModel(path);
  verifyGraph(graph);
  const ex = new GraphExecutor(tf as never, graph);
  const [y] = ex.run({ [graph.inputs[0]!.name]: input as never });
  const got = y!.dataSync() as Float32Array;
  ex.dispose();
  return { got, want };
}

/** A functional model touching every supported layer class, with non-trivial batch-norm statistics. */
async function layerZoo(dir: string): Promise<string> {
  const tf = await loadTfAll('wasm');
  const L = tf.layers;
  const inp = tf.input({ shape: [28, 28, 1], name: 'image' });
  const apply = (layer: tfjs.layers.Layer, x: tfjs.SymbolicTensor | tfjs.SymbolicTensor[]): tfjs.SymbolicTensor => layer.apply(x) as tfjs.SymbolicTensor;
  let x = apply(L.zeroPadding2d({ padding: [[1, 0], [0, 1]] }), inp);
  x = apply(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }), x);
  const a = apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'swish' }), x);
  const b = apply(L.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'elu' }), x);
  let y = apply(L.add(), [a, b]);
  y = apply(L.batchNormalization(), y);
  y = apply(L.activation({ activation: 'tanh' }), y);
  const p = apply(L.maxPooling2d({ poolSize: 2 }), y);
  const q = apply(L.averagePooling2d({ poolSize: 2, strides: 2 }), y);
  let z = apply(L.concatenate({ axis: -1 }), [p, q]);
  z = apply(L.multiply(), [z, apply(L.activation({ activation: 'sigmoid' }), z)]);
  const g1 = apply(L.globalAveragePooling2d({}), z);
  const g2 = apply(L.globalMaxPooling2d({}), z);
  let f = apply(L.flatten(), z);
  f = apply(L.dropout({ rate: 0.3 }), f);
  f = apply(L.dense({ units: 24, activation: 'gelu' as never }), f);
  f = apply(L.layerNormalization(), f);
  f = apply(L.reshape({ targetShape: [4, 6] }), f);
  f = apply(L.flatten(), apply(L.leakyReLU({ alpha: 0.2 }), f));
  const h = apply(L.concatenate(), [f, g1, g2]);
  const out = apply(L.dense({ units: 10, activation: 'softmax' }), apply(L.dense({ units: 32, activation: 'relu' }), h));
  const model = tf.model({ inputs: inp, outputs: out, name: 'layer_zoo' });
  // Batch-norm statistics that are not the identity, so the test sees them.
  for (const w of model.weights) if (/moving_(mean|variance)/.test(w.originalName)) w.write(tf.randomUniform(w.shape as number[], 0.5, 1.5, 'float32', 7));
  const path = join(dir, 'model.json');
  await model.save(fileSaver(path));
  return path;
}

describe('TF.js LayersModel reader matches LayersModel.predict on real MNIST digits', () => {
  it.each([['mlp'], ['cnn']])('%s fixture: outputs within 1e-4, accuracy preserved', async (name) => {
    const { x, y, n } = await mnistTest(300);
    const { got, want } = await compare(fixture('models', name, 'model.json'), x, [n, 28, 28, 1]);
    expect(relError(got, want)).toBeLessThan(1e-4);
    const acc = accuracy(argmax(want, 10), y);
    expect(acc).toBeGreaterThan(0.93);
    expect(accuracy(argmax(got, 10), y)).toBe(acc);
  });

  it('a functional model with every supported layer class', async () => {
    const path = await layerZoo(tempDir());
    const { x, n } = await mnistTest(64);
    const { got, want } = await compare(path, x, [n, 28, 28, 1]);
    expect(relError(got, want)).toBeLessThan(1e-4);
  });
});
