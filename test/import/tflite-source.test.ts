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

/** The elementwise operators, a dilated convolution, PADV2, SQUEEZE and MEAN with keep_dims. */
function zoo2(): Uint8Array {
  const t = new Tfl();
  const x = t.input('x', [1, 6, 6, 2]);
  const conv = t.op('CONV_2D', [x, t.f32('cw', [3, 2, 2, 2], 31), t.f32('cb', [3], 32)], [1, 4, 4, 3], [OPTIONS.Conv2DOptions, [[0, 'i8', PADDING.VALID], [1, 'i32', 1], [2, 'i32', 1], [4, 'i32', 2], [5, 'i32', 2]]], 2);
  const abs = t.op('ABS', [conv], [1, 4, 4, 3]);
  const sq = t.op('SQRT', [abs], [1, 4, 4, 3]);
  const one = t.tensor('one', [], T_F32, Float32Array.of(1));
  const rs = t.op('RSQRT', [t.op('ADD', [abs, one], [1, 4, 4, 3], [OPTIONS.AddOptions, []])], [1, 4, 4, 3]);
  const ex = t.op('EXP', [t.op('NEG', [sq], [1, 4, 4, 3])], [1, 4, 4, 3]);
  const mx = t.op('MAXIMUM', [ex, rs], [1, 4, 4, 3]);
  const mn = t.op('MINIMUM', [ex, rs], [1, 4, 4, 3]);
  const lr = t.op('LEAKY_RELU', [t.op('SUB', [mn, mx], [1, 4, 4, 3], [OPTIONS.SubOptions, []])], [1, 4, 4, 3], [OPTIONS.LeakyReluOptions, [[0, 'f32', 0.1]]]);
  const gain = t.tensor('gain', [], T_F32, Float32Array.of(30)); // drives values past ±1 for RELU_N1_TO_1
  const n1 = t.op('RELU_N1_TO_1', [t.op('MUL', [lr, gain], [1, 4, 4, 3], [OPTIONS.MulOptions, []])], [1, 4, 4, 3]);
  const pads = t.tensor('pads', [4, 2], T_I32, Int32Array.from([0, 0, 1, 0, 0, 1, 0, 0]));
  const pv = t.op('PADV2', [n1, pads, t.tensor('pv', [], T_F32, Float32Array.of(0.25))], [1, 5, 5, 3]);
  const mean = t.op('MEAN', [pv, t.i32('axes', [1, 2])], [1, 1, 1, 3], [OPTIONS.ReducerOptions, [[0, 'bool', true]]]);
  t.output(t.op('SQUEEZE', [mean], [1, 3], [OPTIONS.SqueezeOptions, [[0, 'i32[]', [1, 2]]]]));
  t.output(pv);
  return t.bytes();
}

/** A converter's Flatten with a run-time batch (SHAPE → STRIDED_SLICE → PACK → RESHAPE), and slices of activations. */
function shapeOps(): Uint8Array {
  const t = new Tfl();
  const int = (v: number): number => ((t.m.tensors[v]!.type = T_I32), v);
  const x = t.input('x', [1, 4, 4, 2]);
  const shape = int(t.op('SHAPE', [x], [4], [OPTIONS.ShapeOptions, [[0, 'i8', T_I32]]]));
  const batch = int(t.op('STRIDED_SLICE', [shape, t.i32('b0', [0]), t.i32('e0', [1]), t.i32('s0', [1])], [], [OPTIONS.StridedSliceOptions, [[4, 'i32', 1]]]));
  const target = int(t.op('PACK', [batch, t.tensor('minus1', [], T_I32, Int32Array.of(-1))], [2], [OPTIONS.PackOptions, [[0, 'i32', 2], [1, 'i32', 0]]]));
  const flat = t.op('RESHAPE', [x, target], [1, 32]);
  t.output(t.op('FULLY_CONNECTED', [flat, t.f32('w', [5, 32], 41), t.f32('b', [5], 42)], [1, 5], [OPTIONS.FullyConnectedOptions, []]));
  // x[0, 1:3, ::2, :] (axis 0 shrunk; end_mask on axes 2, 3)
  const ss = t.op('STRIDED_SLICE', [x, t.i32('b1', [0, 1, 0, 0]), t.i32('e1', [1, 3, 0, 0]), t.i32('s1', [1, 1, 2, 1])], [2, 2, 2], [OPTIONS.StridedSliceOptions, [[1, 'i32', 0b1100], [4, 'i32', 1]]]);
  t.output(t.op('PACK', [ss, ss], [2, 2, 2, 2], [OPTIONS.PackOptions, [[0, 'i32', 2], [1, 'i32', -1]]]));
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
  it('SHAPE, STRIDED_SLICE and PACK fold into a constant reshape target; slices and stacks of activations agree with LiteRT', async () => {
    const r = await agreement(dir, 'shape-ops', shapeOps(), noise(32, 43), [1, 4, 4, 2]);
    expect(r.onnx).toBeLessThan(1e-5);
    expect(r.tflite).toBeLessThan(1e-5);
  }, 60_000);
  it('elementwise operators, a dilated convolution, PADV2, SQUEEZE and MEAN keep_dims agree with LiteRT', async () => {
    const r = await agreement(dir, 'zoo2', zoo2(), noise(72, 33), [1, 6, 6, 2]);
    expect(r.onnx).toBeLessThan(1e-4);
    expect(r.tflite).toBeLessThan(1e-4);
  }, 60_000);
});

/** Dense [rows, cols] weights with most entries zero (whole blocks of 4 columns, and single entries). */
function sparseWeights(rows: number, cols: number): Float32Array {
  const w = noise(rows * cols, 21);
  return w.map((v, i) => ((i % cols) >> 2) % 2 === Math.floor(i / cols) % 2 || Math.abs(v) < 0.3 ? 0 : v);
}
/** CSR over rows: traversal [0, 1], the second dim sparse. */
function csr(w: Float32Array, rows: number, cols: number): { values: Float32Array; sp: TflSparsity } {
  const segments = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (w[r * cols + c] !== 0) (indices.push(c), values.push(w[r * cols + c]!));
    segments.push(indices.length);
  }
  return { values: Float32Array.from(values), sp: { traversalOrder: [0, 1], blockMap: [], dims: [{ format: 'DENSE', denseSize: rows }, { format: 'SPARSE_CSR', segments, indices }] } };
}
/** Blocks of 1×4 kept whole: dims (row, column block, column in block), the column blocks sparse. */
function blockCsr(w: Float32Array, rows: number, cols: number): { values: Float32Array; sp: TflSparsity } {
  const segments = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < cols / 4; b++) {
      const block = w.subarray(r * cols + 4 * b, r * cols + 4 * b + 4);
      if (block.some((v) => v !== 0)) (indices.push(b), values.push(...block));
    }
    segments.push(indices.length);
  }
  const sp: TflSparsity = { traversalOrder: [0, 1, 2], blockMap: [1], dims: [{ format: 'DENSE', denseSize: rows }, { format: 'SPARSE_CSR', segments, indices }, { format: 'DENSE', denseSize: 4 }] };
  return { values: Float32Array.from(values), sp };
}
function fcModel(w: Float32Array, sparse?: { values: Float32Array; sp: TflSparsity }): Uint8Array {
  const t = new Tfl();
  const x = t.input('x', [2, 16]);
  const weights = sparse ? t.op('DENSIFY', [t.tensor('w_sparse', [8, 16], T_F32, sparse.values, sparse.sp)], [8, 16]) : t.tensor('w', [8, 16], T_F32, w);
  t.output(t.op('FULLY_CONNECTED', [x, weights, t.f32('b', [8], 22)], [2, 8], [OPTIONS.FullyConnectedOptions, []]));
  return t.bytes();
}

describe('sparse weights (DENSIFY)', () => {
  const w = sparseWeights(8, 16);
  for (const [name, encode] of [['CSR', csr], ['1×4 block CSR', blockCsr]] as const) {
    it(`${name}: densified at import to the dense values; runs as the dense model does in LiteRT`, async () => {
      const enc = encode(w, 8, 16);
      expect(enc.values.length).toBeLessThan(w.length);
      const file = join(dir, `sparse-${enc.sp.blockMap.length}.tflite`);
      const bytes = fcModel(w, enc);
      writeFileSync(file, bytes);
      const g = readTfliteGraph(file, () => {});
      const dense = [...g.constants.values()].find((k) => k.shape.join() === '16,8')!; // [in, out] after the transpose
      const want = Float32Array.from({ length: 128 }, (_, i) => w[(i % 8) * 16 + Math.floor(i / 8)]!);
      expect(Array.from(dense.data as Float32Array)).toEqual(Array.from(want));
      const x = noise(32, 23);
      const [ref] = await liteRt(fcModel(w), x, [2, 16]);
      const [viaOnnx] = await onnxRuntime(exportOnnx(g, 'sparse.onnx').model, x, [2, 16]);
      expect(relMax(viaOnnx!, ref!)).toBeLessThan(1e-5);
      // LiteRT runs the sparse source itself (its DENSIFY kernel): the same numbers.
      const [sparseRun] = await liteRt(bytes, x, [2, 16]);
      expect(relMax(sparseRun!, ref!)).toBeLessThan(1e-5);
      expect(relMax(viaOnnx!, sparseRun!)).toBeLessThan(1e-5);
    }, 60_000);
  }
  it('inspect reads a sparse file (its buffer holds only the kept values) instead of calling it corrupt', () => {
    const file = join(dir, 'sparse-inspect.tflite');
    writeFileSync(file, fcModel(w, csr(w, 8, 16)));
    const r = cli(['inspect', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
  it('a damaged CSR index is an input error, not an out-of-range write', () => {
    const enc = csr(w, 8, 16);
    (enc.sp.dims[1] as { indices: number[] }).indices[3] = 99;
    const file = join(dir, 'sparse-bad.tflite');
    writeFileSync(file, fcModel(w, enc));
    expect(() => readTfliteGraph(file, () => {})).toThrow(/CSR index 99 of dimension 1 is outside 0..15/);
  });
});

describe('the CLI takes TFLite sources', () => {
  for (const [name, path] of [['cnn', 'models/cnn'], ['lenet', 'models/lenet-300-100.onnx']] as const) {
    it(`${name}: quantize x.tflite --mode int8 (calibrated) is within 1 point of the source's MNIST accuracy in LiteRT`, async () => {
      const src = join(dir, `${name}-src.tflite`);
      writeFileSync(src, exportTflite(await loadModel(fixture(path)), src));
      const out = join(dir, `${name}-int8.tflite`);
      const r = cli(['quantize', src, '-o', out, '--mode', 'int8', '--calibration', fixture('data', 'mnist-train.npz'), '--data', fixture('data', 'mnist-test.npz'), '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { eval: ev } = JSON.parse(r.stdout) as { eval: { source: { runtime: string; accuracy: number }; artifact: { accuracy: number } } };
      expect(ev.source.runtime).toBe('litert');
      expect(ev.source.accuracy).toBeGreaterThan(0.9);
      expect(Math.abs(ev.source.accuracy - ev.artifact.accuracy)).toBeLessThanOrEqual(0.01);
    }, 180_000);
  }
  it('export x.tflite -o y.onnx: onnxruntime agrees with LiteRT on the source; a dynamic-range source is read with one warning', async () => {
    const src = join(dir, 'cnn-cli.tflite');
    writeFileSync(src, exportTflite(await loadModel(fixture('models/cnn')), src));
    const dyn = join(dir, 'cnn-dyn.tflite');
    expect(cli(['quantize', src, '-o', dyn]).code).toBe(0);
    const { x } = await mnistTest(16);
    const shape = [1, 28, 28, 1];
    // LiteRT's hybrid kernels quantize the activations to int8 on the fly; the dequantized float model
    // computes without that rounding, so the dynamic-range source agrees to its activation rounding (~1%).
    for (const [file, tol] of [[src, 1e-4], [dyn, 2e-2]] as const) {
      const onnxFile = file.replace(/\.tflite$/, '.onnx');
      const r = cli(['export', file, '-o', onnxFile]);
      expect(r.code).toBe(0);
      expect(r.stderr.trim().split('\n').filter(Boolean)).toHaveLength(file === dyn ? 1 : 0);
      if (file === dyn) expect(r.stderr).toMatch(/^warning: 5 int8 weight tensors \(a dynamic-range model\) dequantized to float32/);
      const { readFileSync } = await import('node:fs');
      for (let s = 0; s < 4; s++) {
        const xs = x.slice(s * 784, (s + 1) * 784);
        const [want] = await liteRt(readFileSync(file), xs, shape);
        const [got] = await onnxRuntime(readFileSync(onnxFile), xs, shape);
        expect(relMax(got!, want!)).toBeLessThan(tol);
        expect(argmax(got!, 10)[0]).toBe(argmax(want!, 10)[0]);
      }
    }
  }, 180_000);
});

describe('refusals', () => {
  const oneLine = (r: { code: number; stderr: string }): string => {
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };
  it('an unsupported builtin: exit 2, one line naming it and its operator index', () => {
    const t = new Tfl();
    const x = t.input('x', [1, 4]);
    const r1 = t.op('RELU', [x], [1, 4]);
    t.output(t.op('GATHER', [r1, t.i32('idx', [0, 2])], [1, 2], [OPTIONS.GatherOptions, [[0, 'i32', 1]]]));
    const file = join(dir, 'gather.tflite');
    writeFileSync(file, t.bytes());
    expect(oneLine(cli(['export', file, '-o', join(dir, 'gather.onnx')]))).toMatch(/unsupported TFLite operator: GATHER \(operator 1\)/);
  });
  it('a full-integer (int8) model: exit 2, one line naming its QUANTIZE operator', async () => {
    const src = join(dir, 'cnn-full.tflite');
    writeFileSync(src, exportTflite(await loadModel(fixture('models/cnn')), src));
    const q = join(dir, 'cnn-full-int8.tflite');
    expect(cli(['quantize', src, '-o', q, '--mode', 'int8', '--calibration', fixture('data', 'mnist-train.npz')]).code).toBe(0);
    expect(oneLine(cli(['quantize', q, '-o', join(dir, 'again.tflite')]))).toMatch(/operator 0 \(QUANTIZE\): int8 activations \(a full-integer model\) are not supported as a source/);
  }, 120_000);
  it('a fused TANH (which TFLite kernels do not apply uniformly) is refused, naming the operator', () => {
    const t = new Tfl();
    const x = t.input('x', [1, 4]);
    t.output(t.op('ADD', [x, x], [1, 4], [OPTIONS.AddOptions, [[0, 'i8', ACTIVATION.TANH]]]));
    const file = join(dir, 'tanh.tflite');
    writeFileSync(file, t.bytes());
    expect(() => readTfliteGraph(file)).toThrow(/operator 0 \(ADD\): fused activation TANH is not supported/);
  });
});

describe('int8 from a TFLite source, beyond MNIST', () => {
  it('mobilenet and the operator graph: calibrated int8 in LiteRT stays within a few % of the source output range', async () => {
    const { quantizeModel } = await import('../../src/quantize/index.js');
    const mobilenet = exportTflite(await loadModel(fixture('exports/mobilenet-17.onnx')), 'mobilenet.tflite');
    for (const [name, bytes] of [['mobilenet', mobilenet], ['zoo', zoo(false)]] as const) {
      const file = join(dir, `${name}-int8-src.tflite`);
      writeFileSync(file, bytes);
      const s = await openLiteRt(bytes, name);
      const shape = s.inputs[0]!.shape;
      s.dispose();
      const size = shape.reduce((a, b) => a * b, 1);
      const samples = 16;
      const calib = Float32Array.from({ length: samples * size }, (_, i) => noise(1, 100 + i)[0]! * 0.5 + 0.5);
      const g = readTfliteGraph(file, () => {});
      const { graph, plan } = await quantizeModel(g, { mode: 'int8', calibration: { x: calib, shape: [samples, ...shape.slice(1)], source: 'noise' } });
      const q = exportTflite(graph, `${name}-int8.tflite`, { quant: plan });
      let worst = 0;
      for (let k = 0; k < 3; k++) {
        const x = noise(size, 900 + k).map((v) => v * 0.5 + 0.5); // not among the calibration samples
        const want = await liteRt(bytes, x, shape);
        const got = await liteRt(q, x, shape);
        want.forEach((w, i) => (worst = Math.max(worst, relMax(got[i]!, w))));
      }
      console.log(`${name}: int8 max error ${(100 * worst).toFixed(2)}% of the output range`);
      expect(worst).toBeLessThan(0.05);
    }
  }, 180_000);
});
