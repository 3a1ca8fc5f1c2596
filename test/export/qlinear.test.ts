// Integer convolution and matrix products (ConvInteger, QLinearConv, QLinearMatMul) with per-channel
// weight parameters, int8 weights, a bias and 1-D / 3-D shapes the backend suite does not cover:
// onnxruntime on the source is the reference for the executor, the ONNX export and the TFLite export
// in LiteRT, and the integers must match exactly; per-row activation parameters are refused.
import { writeFileSync } from 'node:fs';
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
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const U8 = 2;
const I8 = 3;
const I32 = 6;
const F32 = 1;

/** Integers spread over [lo, hi], non-monotonic. */
const ints = (n: number, lo: number, hi: number, seed = 7): number[] => Array.from({ length: n }, (_, i) => lo + ((i * seed + ((i * i) % 11)) % (hi - lo + 1)));

const dims = (shape: (number | string)[]) => ({ dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
const tensor = (name: string, type: number, shape: number[], v: number[]) => ({
  name,
  dataType: type,
  dims: shape,
  ...(type === F32 ? { floatData: v } : { int32Data: v }),
});

/** A one-node opset-13 model with input 'x' (uint8) and the rest as initializers. */
function model(op: string, x: (number | string)[], y: (number | string)[], yType: number, inits: ReturnType<typeof tensor>[], inputs: string[], attribute: object[] = []): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: op,
      input: [{ name: 'x', type: { tensorType: { elemType: U8, shape: dims(x) } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: yType, shape: dims(y) } } }],
      initializer: inits,
      node: [{ opType: op, name: op.toLowerCase(), input: inputs, output: ['y'], attribute }],
    },
  }).finish();
}

const dir = tempDir();

describe('ConvInteger, QLinearConv and QLinearMatMul as exact integer compositions', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  async function check(bytes: Uint8Array, name: string, shape: number[]): Promise<void> {
    const n = shape.reduce((p, d) => p * d, 1);
    const x = Uint8Array.from(ints(n, 0, 255, 13));
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const want = Array.from((await s.run({ x: new ort.Tensor('uint8', x, shape) })).y!.data as ArrayLike<number>, Number);
    await s.release();
    const file = join(dir, `${name}.onnx`);
    writeFileSync(file, bytes);
    const graph = readOnnxModel(file, bytes);
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run({ [graph.inputs[0]!.name]: tf.tensor(x, shape, 'int32') });
    expect(Array.from(y!.dataSync() as ArrayLike<number>, Number)).toEqual(want);
    y!.dispose();
    ex.dispose();
    const o = await ort.InferenceSession.create(exportOnnx(graph, `${name}.onnx`).model, { logSeverityLevel: 3 });
    const oin = o.inputNames[0]!;
    const feeds = { [oin]: graph.inputs[0]!.dtype === 'uint8' ? new ort.Tensor('uint8', x, shape) : new ort.Tensor('float32', Float32Array.from(x), shape) };
    expect(Array.from((await o.run(feeds))[o.outputNames[0]!]!.data as ArrayLike<number>, Number)).toEqual(want);
    await o.release();
    const lrt = await openLiteRt(exportTflite(graph, `${name}.tflite`), `${name}.tflite`);
    try {
      const [got] = await lrt.run([{ data: x, shape }]);
      expect(Array.from(got!.data as ArrayLike<number>, Number)).toEqual(want);
    } finally {
      lrt.dispose();
    }
  }

  it('QLinearConv: int8 weights with per-channel scales and zero points 0, int32 bias, pads and stride', async () => {
    const w = ints(4 * 3 * 3 * 3, -60, 60);
    const bytes = model('QLinearConv', [1, 3, 6, 5], [1, 4, 3, 3], U8, [
      tensor('xs', F32, [], [0.02]), tensor('xz', U8, [], [128]), tensor('w', I8, [4, 3, 3, 3], w),
      tensor('ws', F32, [4], [0.011, 0.007, 0.013, 0.009]), tensor('wz', I8, [4], [0, 0, 0, 0]),
      tensor('ys', F32, [], [0.05]), tensor('yz', U8, [], [120]), tensor('b', I32, [4], [-300, 150, 0, 2100]),
    ], ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], [{ name: 'pads', type: 7, ints: [1, 1, 1, 1] }, { name: 'strides', type: 7, ints: [2, 2] }]);
    await check(bytes, 'qlinearconv', [1, 3, 6, 5]);
  });

  it('ConvInteger 1-D: uint8 weights and zero points, grouped (onnxruntime takes a per-tensor weight zero point only)', async () => {
    const bytes = model('ConvInteger', [2, 4, 9], [2, 4, 7], I32, [
      tensor('w', U8, [4, 2, 3], ints(24, 0, 255, 5)), tensor('xz', U8, [], [100]), tensor('wz', U8, [], [120]),
    ], ['x', 'w', 'xz', 'wz'], [{ name: 'group', type: 2, i: 2 }]);
    await check(bytes, 'convinteger1d', [2, 4, 9]);
  });

  it('QLinearMatMul 3-D by 2-D: uint8 B with per-column scale and zero point', async () => {
    const bytes = model('QLinearMatMul', [2, 3, 5], [2, 3, 4], U8, [
      tensor('as', F32, [], [0.03]), tensor('az', U8, [], [131]), tensor('b', U8, [5, 4], ints(20, 0, 255, 9)),
      tensor('bs', F32, [4], [0.01, 0.02, 0.005, 0.015]), tensor('bz', U8, [4], [128, 100, 3, 250]), tensor('ys', F32, [], [0.6]), tensor('yz', U8, [], [140]),
    ], ['x', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz']);
    await check(bytes, 'qlinearmatmul', [2, 3, 5]);
  });

  it('QLinearMatMul with a per-row a_scale is refused, naming the op and the input', () => {
    const bytes = model('QLinearMatMul', [3, 5], [3, 4], U8, [
      tensor('as', F32, [3], [0.03, 0.02, 0.01]), tensor('az', U8, [], [131]), tensor('b', U8, [5, 4], ints(20, 0, 255, 9)),
      tensor('bs', F32, [], [0.01]), tensor('bz', U8, [], [128]), tensor('ys', F32, [], [0.6]), tensor('yz', U8, [], [140]),
    ], ['x', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz']);
    const file = join(dir, 'per-row.onnx');
    writeFileSync(file, bytes);
    expect(() => readOnnxModel(file, bytes)).toThrow(expect.objectContaining({ code: 'unsupported', message: expect.stringMatching(/QLinearMatMul.*per-row a scale or zero point \(input 1\)/) }));
  });
});
