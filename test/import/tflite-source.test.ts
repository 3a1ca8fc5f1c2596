// TFLite as a source: files read into the IR, then written as ONNX (run in onnxruntime) and TFLite (run in
// LiteRT), against LiteRT running the SOURCE file. Sources are edgelm's own exports of the fixtures and
// flatbuffers built here operator by operator (options, fused activations, float16 and sparse weights).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { serializeTflite, type TflModel, type TflOperator, type TflSparsity, type OptionField } from '../../src/export/tflite/flatbuffer.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { ACTIVATION, OP, OPTIONS, PADDING } from '../../src/export/tflite/schema.js';
import { loadModel } from '../../src/import/index.js';
import { readTfliteGraph } from '../../src/import/tflite/graph.js';
import { floatToHalf } from '../../src/ir/float16.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { argmax, cli, fixture, mnistTest, noise, tempDir } from '../helpers.js';

const T_F32 = 0;
const T_F16 = 1;
const T_I32 = 2;

/** A TFLite model built tensor by tensor, for operators edgelm's writer does not emit this way. */
class Tfl {
  m: TflModel = { description: 'test', tensors: [], inputs: [], outputs: [], operators: [], buffers: [new Uint8Array(0)], signature: { key: 'serving_default', inputs: [], outputs: [] } };
  tensor(name: string, shape: number[], type = T_F32, data?: ArrayBufferView, sparsity?: TflSparsity): number {
    let buffer = 0;
    if (data) {
      buffer = this.m.buffers.length;
      this.m.buffers.push(new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
    }
    this.m.tensors.push({ name, shape, type, buffer, ...(sparsity ? { sparsity } : {}) });
    return this.m.tensors.length - 1;
  }
  f32(name: string, shape: number[], seed: number, scale = 0.5): number {
    return this.tensor(name, shape, T_F32, noise(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * scale));
  }
  i32(name: string, values: number[]): number {
    return this.tensor(name, [values.length], T_I32, Int32Array.from(values));
  }
  input(name: string, shape: number[]): number {
    const t = this.tensor(name, shape);
    this.m.inputs.push(t);
    this.m.signature.inputs.push([name, t]);
    return t;
  }
  op(op: keyof typeof OP, inputs: number[], outShape: number[], options?: [number, OptionField[]], version = 1): number {
    const out = this.tensor(`${op.toLowerCase()}_${this.m.operators.length}`, outShape);
    const o: TflOperator = { op: OP[op], version, inputs, outputs: [out], ...(options ? { options: { type: options[0], fields: options[1] } } : {}) };
    this.m.operators.push(o);
    return out;
  }
  output(t: number): void {
    this.m.outputs.push(t);
    this.m.signature.outputs.push([this.m.tensors[t]!.name, t]);
  }
  bytes(): Uint8Array {
    if (process.env.TFLSRC_DEBUG) for (const o of this.m.operators) if (!this.m.outputs.includes(o.outputs[0]!) && this.m.tensors[o.outputs[0]!]!.name.indexOf('dequantize')) this.output(o.outputs[0]!);
    return serializeTflite(this.m);
  }
}

async function liteRt(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array[]> {
  const s = await openLiteRt(bytes, 'model.tflite');
  try {
    return (await s.run([{ data: x, shape }])).map((o) => o.data as Float32Array);
  } finally {
    s.dispose();
  }
}
async function onnxRuntime(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    return s.outputNames.map((n) => out[n]!.data as Float32Array);
  } finally {
    await s.release();
  }
}
/** max |got − want| relative to the largest |want|. */
function relMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let e = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  return e / (m || 1);
}

/** Reads `bytes` as a source and checks its ONNX and float TFLite exports against LiteRT on the source. */
async function agreement(dir: string, name: string, bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<{ onnx: number; tflite: number }> {
  const file = join(dir, `${name}.tflite`);
  writeFileSync(file, bytes);
  const want = await liteRt(bytes, x, shape);
  const g = readTfliteGraph(file, () => {});
  const viaOnnx = await onnxRuntime(exportOnnx(g, `${name}.onnx`).model, x, shape);
  const viaTflite = await liteRt(exportTflite(g, `${name}-again.tflite`), x, shape);
  expect(viaOnnx.length).toBe(want.length);
  if (process.env.TFLSRC_DEBUG) want.forEach((w, i) => console.log(i, relMax(viaOnnx[i]!, w), relMax(viaTflite[i]!, w)));
  return {
    onnx: Math.max(...want.map((w, i) => relMax(viaOnnx[i]!, w))),
    tflite: Math.max(...want.map((w, i) => relMax(viaTflite[i]!, w))),
  };
}

let dir: string;
beforeAll(() => {
  dir = tempDir();
});

const ins = (n: number, seed = 1): Float32Array => noise(n, seed).map((v) => v * 0.5 + 0.5);

describe('edgelm-written TFLite files of the fixtures read back', () => {
  for (const [name, path] of [['cnn', 'models/cnn'], ['cnn-nchw', 'models/cnn-nchw.onnx'], ['lenet', 'models/lenet-300-100.onnx'], ['mobilenet', 'exports/mobilenet-17.onnx']] as const) {
    it(`${name}: ONNX (onnxruntime) and TFLite (LiteRT) exports agree with LiteRT on the source`, async () => {
      const bytes = exportTflite(await loadModel(fixture(path)), `${name}.tflite`);
      const s = await openLiteRt(bytes, name);
      const shape = s.inputs[0]!.shape;
      s.dispose();
      const r = await agreement(dir, name, bytes, ins(shape.reduce((a, b) => a * b, 1)), shape);
      expect(r.onnx).toBeLessThan(1e-4);
      expect(r.tflite).toBeLessThan(1e-4);
    }, 120_000);
  }
});

/** Every operator the reader maps, with options and fused activations, in one graph. */
function zoo(f16: boolean): Uint8Array {
  const t = new Tfl();
  const x = t.input('x', [1, 8, 8, 3]);
  const conv = t.op('CONV_2D', [x, t.f32('cw', [4, 3, 3, 3], 2), t.f32('cb', [4], 3)], [1, 8, 8, 4], [OPTIONS.Conv2DOptions, [[0, 'i8', PADDING.SAME], [1, 'i32', 1], [2, 'i32', 1], [3, 'i8', ACTIVATION.RELU6]]]);
  const dw = t.op('DEPTHWISE_CONV_2D', [conv, t.f32('dw', [1, 3, 3, 8], 4), t.f32('db', [8], 5)], [1, 4, 4, 8], [OPTIONS.DepthwiseConv2DOptions, [[0, 'i8', PADDING.SAME], [1, 'i32', 2], [2, 'i32', 2], [3, 'i32', 2], [4, 'i8', ACTIVATION.RELU]]]);
  const pr = t.op('PRELU', [dw, t.f32('alpha', [1, 1, 8], 6)], [1, 4, 4, 8]);
  const hs = t.op('HARD_SWISH', [pr], [1, 4, 4, 8]);
  const mp = t.op('MAX_POOL_2D', [hs], [1, 2, 2, 8], [OPTIONS.Pool2DOptions, [[0, 'i8', PADDING.VALID], [1, 'i32', 2], [2, 'i32', 2], [3, 'i32', 2], [4, 'i32', 2]]]);
  const ap = t.op('AVERAGE_POOL_2D', [hs], [1, 4, 4, 8], [OPTIONS.Pool2DOptions, [[0, 'i8', PADDING.SAME], [1, 'i32', 1], [2, 'i32', 1], [3, 'i32', 3], [4, 'i32', 3]]]);
  const rb = t.op('RESIZE_BILINEAR', [mp, t.i32('size', [4, 4])], [1, 4, 4, 8], [OPTIONS.ResizeBilinearOptions, [[3, 'bool', true]]], 3);
  const rn = t.op('RESIZE_NEAREST_NEIGHBOR', [mp, t.i32('size2', [4, 4])], [1, 4, 4, 8], [OPTIONS.ResizeNearestNeighborOptions, []]);
  const ad = t.op('ADD', [rb, rn], [1, 4, 4, 8], [OPTIONS.AddOptions, [[0, 'i8', ACTIVATION.NONE]]]);
  const sb = t.op('SUB', [ap, ad], [1, 4, 4, 8], [OPTIONS.SubOptions, []]);
  const lg = t.op('LOGISTIC', [ap], [1, 4, 4, 8]);
  const mu = t.op('MUL', [sb, lg], [1, 4, 4, 8], [OPTIONS.MulOptions, [[0, 'i8', ACTIVATION.RELU_N1_TO_1]]]);
  const dv = t.op('DIV', [mu, t.tensor('den', [8], T_F32, Float32Array.from({ length: 8 }, (_, i) => 1.5 + i))], [1, 4, 4, 8], [OPTIONS.DivOptions, []]);
  const cat = t.op('CONCATENATION', [dv, ap], [1, 4, 4, 16], [OPTIONS.ConcatenationOptions, [[0, 'i32', 3]]]);
  const tc = t.op('TRANSPOSE_CONV', [t.i32('oshape', [1, 8, 8, 4]), t.f32('tw', [4, 3, 3, 16], 7), cat, t.f32('tb', [4], 8)], [1, 8, 8, 4], [OPTIONS.TransposeConvOptions, [[0, 'i8', PADDING.SAME], [1, 'i32', 2], [2, 'i32', 2]]], 3);
  const pd = t.op('PAD', [tc, t.tensor('pads', [4, 2], T_I32, Int32Array.from([0, 0, 1, 1, 2, 0, 0, 0]))], [1, 10, 10, 4]);
  const mean = t.op('MEAN', [pd, t.i32('axes', [1, 2])], [1, 4], [OPTIONS.ReducerOptions, [[0, 'bool', false]]]);
  const tr = t.op('TRANSPOSE', [pd, t.i32('perm', [0, 3, 1, 2])], [1, 4, 10, 10]);
  const rs = t.op('RESHAPE', [tr, t.i32('shape', [1, 400])], [1, 400]);
  let fw = t.f32('fw', [6, 400], 9, 0.1);
  if (f16) {
    const w = noise(2400, 9).map((v) => v * 0.1);
    const half = t.tensor('fw16', [6, 400], T_F16, Uint16Array.from(w, floatToHalf));
    fw = t.op('DEQUANTIZE', [half], [6, 400]);
  }
  const fc = t.op('FULLY_CONNECTED', [rs, fw, t.f32('fb', [6], 10)], [1, 6], [OPTIONS.FullyConnectedOptions, [[0, 'i8', ACTIVATION.RELU]]]);
  const fc2 = t.op('FULLY_CONNECTED', [mean, t.f32('fw2', [6, 4], 11), -1], [1, 6], [OPTIONS.FullyConnectedOptions, []]);
  const sum = t.op('ADD', [fc, fc2], [1, 6], [OPTIONS.AddOptions, []]);
  t.output(t.op('SOFTMAX', [sum], [1, 6], [OPTIONS.SoftmaxOptions, [[0, 'f32', 0.5]]]));
  const relu = t.op('RELU', [mean], [1, 4]);
  const relu6 = t.op('RELU6', [relu], [1, 4]);
  t.output(t.op('TANH', [relu6], [1, 4]));
  return t.bytes();
}

describe('operators, options and fused activations', () => {
  for (const f16 of [false, true]) {
    it(`a graph of every mapped operator${f16 ? ' (float16 weights through DEQUANTIZE)' : ''} agrees with LiteRT`, async () => {
      const r = await agreement(dir, f16 ? 'zoo16' : 'zoo', zoo(f16), ins(192, 3), [1, 8, 8, 3]);
      expect(r.onnx).toBeLessThan(1e-4);
      expect(r.tflite).toBeLessThan(1e-4);
    }, 60_000);
  }
});
