// The GraphModel reader + executor must compute what TF.js's own GraphModel.execute computes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type * as tfjs from '../tfjs-all.js';
import { loadTfAll } from '../tfjs-all.js';
import { readGraphModel } from '../../src/import/tfjs-graph/index.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { fileLoader } from '../../src/runtime/tfjs/io.js';
import { fixture, mnistTest, relError } from '../helpers.js';

const OPS_EXPECTED = ['Const', 'Placeholder', 'Identity', 'NoOp', '_FusedConv2D', 'FusedDepthwiseConv2dNative', 'Conv2D', 'BiasAdd', 'DepthwiseConv2dNative',
  'Conv2DBackpropInput', 'MatMul', '_FusedMatMul', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum', 'Relu', 'Prelu', 'Sigmoid', 'Tanh', 'Softmax', 'Abs',
  'Square', 'Rsqrt', 'Sum', 'Mean', 'Max', 'MaxPool', 'AvgPool', 'Pad', 'ConcatV2', 'Reshape', 'Squeeze', 'ExpandDims', 'StridedSlice', 'Shape', 'Pack'];

describe('TF.js GraphModel reader matches GraphModel.execute on real MNIST digits', () => {
  it('the fixture uses the ops tensorflowjs_converter emits, with fused activations', () => {
    const json = JSON.parse(readFileSync(fixture('models', 'graph-cnn', 'model.json'), 'utf8')) as { modelTopology: { node: { op: string }[] } };
    const ops = new Set(json.modelTopology.node.map((n) => n.op));
    expect(OPS_EXPECTED.filter((op) => !ops.has(op))).toEqual([]);
  });

  it.each([['graph-cnn'], ['graph-cnn-f16'], ['graph-cnn-u8']])('%s: both outputs within 1e-4', async (name) => {
    const tf = await loadTfAll('wasm');
    const path = fixture('models', name, 'model.json');
    const { x, n } = await mnistTest(64);
    const input = tf.tensor(x, [n, 28, 28, 1]);
    const model = await tf.loadGraphModel(fileLoader(path));
    const want = (model.execute(input, ['Identity', 'Identity_1']) as tfjs.Tensor[]).map((t) => t.dataSync() as Float32Array);
    const graph = readGraphModel(path);
    verifyGraph(graph);
    expect(graph.nodes.some((nd) => nd.op === 'shape')).toBe(false); // Shape/StridedSlice/Pack folded
    const ex = new GraphExecutor(tf as never, graph);
    const got = ex.run({ input: input as never }).map((t) => t.dataSync() as Float32Array);
    ex.dispose();
    expect(got.length).toBe(2);
    expect(relError(got[0]!, want[0]!)).toBeLessThan(1e-4);
    expect(relError(got[1]!, want[1]!)).toBeLessThan(1e-4);
  });
});
