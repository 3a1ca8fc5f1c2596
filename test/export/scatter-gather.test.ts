// ScatterElements, ScatterND, GatherND, ReverseSequence, Round, Compress and NonZero beyond the
// conformance suite's cases: negative and duplicate indices, run-time int32 indices, batch dims and
// reduction mul on duplicates. Each model is built here with onnx-proto; onnxruntime is the reference
// for the executor, the ONNX export and the TFLite export in LiteRT.
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Tf } from '../../src/ir/op.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { readOnnxBytes, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

/** A graph value: float32 (type 1), uint8 (2), int32 (6), int64 (7) or bool (9); `init` makes it an initializer. */
interface Value {
  name: string;
  type: 1 | 2 | 6 | 7 | 9;
  shape: number[];
  data: number[];
  init?: boolean;
}

function model(opType: string, ins: Value[], attrs: Record<string, number | string>, outType: number, outShape: number[], pre?: { opType: string; input: string[]; output: string }): Uint8Array {
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ dimValue: d })) });
  const tensor = (v: Value) => ({ name: v.name, dataType: v.type, dims: v.shape, ...(v.type === 1 ? { floatData: v.data } : v.type === 2 || v.type === 6 || v.type === 9 ? { int32Data: v.data } : { int64Data: v.data }) });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'scatter',
      input: ins.filter((v) => !v.init).map((v) => ({ name: v.name, type: { tensorType: { elemType: v.type, shape: dims(v.shape) } } })),
      output: [{ name: 'y', type: { tensorType: { elemType: outType, shape: dims(outShape) } } }],
      initializer: ins.filter((v) => v.init).map(tensor),
      node: [
        ...(pre ? [{ opType: pre.opType, name: 'pre', input: pre.input, output: [pre.output] }] : []),
        {
          opType,
          name: 'n',
          input: [...ins.map((v) => v.name).filter((n) => !pre || !pre.input.includes(n)), ...(pre ? [pre.output] : [])],
          output: ['y'],
          attribute: Object.entries(attrs).map(([name, v]) => (typeof v === 'string' ? { name, type: 3, s: new TextEncoder().encode(v) } : { name, type: 2, i: v })),
        },
      ],
    },
  }).finish();
}

const feeds = (ins: Value[]) => ins.filter((v) => !v.init);
const typed = (v: Value) => (v.type === 1 ? Float32Array.from(v.data) : v.type === 2 ? Uint8Array.from(v.data) : Int32Array.from(v.data));

async function runOrt(bytes: Uint8Array, ins: Value[]): Promise<number[]> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const tensor = (v: Value) => (v.type === 7 ? new ort.Tensor('int64', BigInt64Array.from(v.data, BigInt), v.shape) : new ort.Tensor(v.type === 1 ? 'float32' : v.type === 2 ? 'uint8' : 'int32', typed(v), v.shape));
    const out = await s.run(Object.fromEntries(feeds(ins).map((v) => [v.name, tensor(v)])));
    return Array.from(out.y!.data as ArrayLike<number | bigint>, Number);
  } finally {
    await s.release();
  }
}

async function runTflite(bytes: Uint8Array, ins: Value[]): Promise<number[]> {
  const s = await openLiteRt(bytes, 'scatter.tflite');
  try {
    const [y] = await s.run(feeds(ins).map((v) => ({ data: typed(v), shape: v.shape })));
    return Array.from(y!.data as ArrayLike<number>, Number);
  } finally {
    s.dispose();
  }
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(want[i]!));
}

const dir = tempDir();
const read = (bytes: Uint8Array): ReturnType<typeof readOnnxModel> => readOnnxBytes(bytes, dir, 'scatter');

const f32 = (name: string, shape: number[], scale = 1): Value => ({ name, type: 1, shape, data: Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => Math.round((Math.sin(i * 1.7) * 4 + 1) * scale * 8) / 8) });
const i32 = (name: string, shape: number[], data: number[], init = false): Value => ({ name, type: 6, shape, data, init });
// ScatterND, GatherND and ReverseSequence take int64 indices only (LiteRT's JS API gets them as int32).
const i64 = (name: string, shape: number[], data: number[], init = false): Value => ({ name, type: 7, shape, data, init });
const data34 = f32('x', [3, 4]);

const CASES: { name: string; bytes: Uint8Array; ins: Value[] }[] = [];
function add(name: string, opType: string, ins: Value[], attrs: Record<string, number | string>, outShape: number[], outType = 1): void {
  CASES.push({ name, bytes: model(opType, ins, attrs, outType, outShape), ins });
}
// Duplicates (−1 and 3 are the same column) and negative indices, indices at run time and as constants.
for (const init of [false, true]) {
  const how = init ? 'constant' : 'run-time';
  const idx = i32('i', [3, 2], [0, -1, 3, 1, -4, 0], init);
  add(`ScatterElements axis 1 add, ${how} indices with duplicates`, 'ScatterElements', [data34, idx, f32('u', [3, 2], 0.5)], { axis: 1, reduction: 'add' }, [3, 4]);
  add(`ScatterElements axis 0 none, ${how} negative indices`, 'ScatterElements', [data34, i32('i', [2, 3], [-1, 0, 1, 0, 2, -3], init), f32('u', [2, 3], 2)], { axis: 0 }, [3, 4]);
  add(`ScatterND slices add, ${how} indices with duplicates`, 'ScatterND', [data34, i64('i', [3, 1], [2, -1, 0], init), f32('u', [3, 4], 0.25)], { reduction: 'add' }, [3, 4]);
  add(`ScatterND elements none, ${how} negative indices`, 'ScatterND', [data34, i64('i', [2, 2], [-1, -1, 0, 2], init), f32('u', [2], 3)], {}, [3, 4]);
  add(`GatherND batch_dims 1, ${how} negative indices`, 'GatherND', [f32('x', [2, 3, 4]), i64('i', [2, 2, 1], [-1, 0, 2, -2], init)], { batch_dims: 1 }, [2, 2, 4]);
  add(`GatherND element tuples, ${how} indices`, 'GatherND', [f32('x', [2, 3, 4]), i64('i', [3, 3], [1, -1, 3, 0, 0, -4, 1, 2, 0], init)], {}, [3]);
  add(`ReverseSequence batch axis 0, ${how} lengths`, 'ReverseSequence', [f32('x', [3, 4, 2]), i64('lens', [3], [4, 1, 3], init)], { batch_axis: 0, time_axis: 1 }, [3, 4, 2]);
}
// A product of duplicates: TFLite multiplies one SCATTER_ND per layer of duplicates.
add('ScatterND mul, constant indices with duplicates', 'ScatterND', [data34, i64('i', [4, 1], [1, -2, 0, 1], true), f32('u', [4, 4], 0.5)], { reduction: 'mul' }, [3, 4]);
add('ScatterElements mul, constant indices with duplicates', 'ScatterElements', [data34, i32('i', [3, 2], [0, 0, 3, -1, 2, 2], true), f32('u', [3, 2], 0.5)], { axis: 1, reduction: 'mul' }, [3, 4]);
// Bits shifted out of uint8 are lost; a shift by the full width gives 0.
for (const direction of ['LEFT', 'RIGHT']) {
  const x: Value = { name: 'x', type: 2, shape: [2, 5], data: [200, 255, 1, 129, 77, 3, 128, 255, 64, 0] };
  const s: Value = { name: 's', type: 2, shape: [5], data: [1, 7, 8, 0, 3] };
  add(`BitShift ${direction} of uint8 with overflowing bits`, 'BitShift', [x, s], { direction }, [2, 5], 2);
}
add('Compress axis 1 with a constant condition', 'Compress', [data34, { name: 'c', type: 9, shape: [4], data: [1, 0, 1, 1], init: true }], { axis: 1 }, [3, 3]);
add('Compress without an axis, condition shorter than the input', 'Compress', [data34, { name: 'c', type: 9, shape: [5], data: [0, 1, 1, 0, 1], init: true }], {}, [3]);

describe('scatter and gather ops', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  for (const { name, bytes, ins } of CASES) {
    it(`${name}: the executor, the ONNX export and TFLite in LiteRT match onnxruntime`, async () => {
      const want = await runOrt(bytes, ins);
      const graph = read(bytes);
      const ex = new GraphExecutor(tf, graph);
      const [y] = ex.run(Object.fromEntries(feeds(ins).map((v) => [v.name, tf.tensor(typed(v), v.shape)])));
      expectClose(Array.from(y!.dataSync()), want);
      y!.dispose();
      ex.dispose();
      expectClose(await runOrt(exportOnnx(graph, 'scatter.onnx').model, ins), want);
      expectClose(await runTflite(exportTflite(graph, 'scatter.tflite'), ins), want);
    });
  }

  it('Round rounds halves to even (the ONNX formula) in the executor, the ONNX export and TFLite ROUND', async () => {
    const x: Value = { name: 'x', type: 1, shape: [10], data: [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -3.5, 1e6 + 0.5] };
    const want = [0, 2, 2, -0, -2, -2, 2, 3, -4, 1e6];
    const bytes = model('Round', [x], {}, 1, [10]);
    expect(await runOrt(bytes, [x])).toEqual(want);
    const graph = read(bytes);
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run({ x: tf.tensor(typed(x), x.shape) });
    expect(Array.from(y!.dataSync())).toEqual(want);
    y!.dispose();
    ex.dispose();
    expect(await runOrt(exportOnnx(graph, 'round.onnx').model, [x])).toEqual(want);
    expect(await runTflite(exportTflite(graph, 'round.tflite'), [x])).toEqual(want);
  });

  it('NonZero of a constant folds to its coordinates (numpy.nonzero order); of a run-time value it is refused', async () => {
    const c: Value = { name: 'c', type: 1, shape: [2, 3], data: [0, 2, 0, -1, 0, 3], init: true };
    const x: Value = { name: 'x', type: 7, shape: [2, 3], data: [0, 0, 0, 0, 0, 0] };
    const bytes = model('Add', [x, c], {}, 7, [2, 3], { opType: 'NonZero', input: ['c'], output: 'nz' });
    const graph = read(bytes);
    const nz = [...graph.constants.values()].find((t) => t.shape.join() === '2,3' && t.dtype === 'int64');
    expect(nz && Array.from(nz.data as BigInt64Array, Number)).toEqual([0, 1, 1, 1, 0, 2]);
    const runtime = model('NonZero', [f32('x', [2, 3])], {}, 7, [2, 3]);
    expect(() => read(runtime)).toThrow(EdgelmError);
    expect(() => read(runtime)).toThrow(/NonZero.*output size depends on the data/);
  });

  it('ScatterND mul with run-time indices is refused for TFLite with the reason', () => {
    const bytes = model('ScatterND', [data34, i64('i', [1, 1], [0]), f32('u', [1, 4])], { reduction: 'mul' }, 1, [3, 4]);
    expect(() => exportTflite(read(bytes), 'mul.tflite')).toThrow(/reduction mul needs constant indices/);
  });
});
