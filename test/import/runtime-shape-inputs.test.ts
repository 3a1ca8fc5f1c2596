// Shapes, pads, bounds and parameters that arrive as graph inputs (as the ONNX backend suite passes
// them) are run-time tensors: one-node models built here with onnx-proto, checked against onnxruntime
// on the source model in edgelm's executor and ONNX export; the TFLite export runs in LiteRT where it
// can, else refuses naming the run-time shape.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;

type Elem = 'float32' | 'int64' | 'uint8';
const ELEM: Record<Elem, number> = { float32: 1, uint8: 2, int64: 7 };
interface Feed {
  name: string;
  type: Elem;
  dims: number[];
  data: number[];
}
interface Node {
  op: string;
  inputs: string[];
  outputs?: string[];
  attrs?: Record<string, number | number[] | string | { t: Elem; v: number }>;
}
interface Case {
  name: string;
  opset?: number;
  feeds: Feed[];
  nodes: Node[];
  outputs: { name: string; type: Elem }[];
  /** The TFLite export runs in LiteRT (else it must refuse naming the run-time shape). */
  tflite: boolean;
  /** The ONNX export refuses with this message (else it runs in onnxruntime). */
  onnxRefuses?: RegExp;
}

function attribute(name: string, v: number | number[] | string | { t: Elem; v: number }): onnxProto.onnx.IAttributeProto {
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
  const raw = v.t === 'float32' ? { floatData: [v.v] } : { int64Data: [v.v] };
  return { name, type: 4, t: { dims: [1], dataType: ELEM[v.t], ...raw } };
}

function model(c: Case): Uint8Array {
  const vi = (name: string, type: Elem, dims?: number[]) => ({ name, type: { tensorType: { elemType: ELEM[type], ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: c.opset ?? 18 }],
    graph: {
      name: c.name,
      input: c.feeds.map((f) => vi(f.name, f.type, f.dims)),
      output: c.outputs.map((o) => vi(o.name, o.type)),
      node: c.nodes.map((n, i) => ({
        opType: n.op,
        name: `${n.op}_${i}`,
        input: n.inputs,
        output: n.outputs ?? [c.outputs[0]!.name],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  }).finish();
}

const ortTensor = (f: Feed): ort.Tensor =>
  new ort.Tensor(f.type, f.type === 'int64' ? BigInt64Array.from(f.data, BigInt) : f.type === 'uint8' ? Uint8Array.from(f.data) : Float32Array.from(f.data), f.dims);

async function runOrt(bytes: Uint8Array, feeds: Feed[]): Promise<{ dims: number[]; data: number[] }[]> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const out = await s.run(Object.fromEntries(feeds.map((f) => [f.name, ortTensor(f)])));
  const res = s.outputNames.map((n) => ({ dims: [...out[n]!.dims], data: Array.from(out[n]!.data as ArrayLike<number | bigint>, Number) }));
  await s.release();
  return res;
}

function close(got: { dims: number[]; data: ArrayLike<number> }, want: { dims: number[]; data: number[] }): void {
  expect(got.dims).toEqual(want.dims);
  expect(got.data.length).toBe(want.data.length);
  for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i]! - want.data[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want.data[i]!)));
}

const f32 = (name: string, dims: number[], seed = 1): Feed => ({ name, type: 'float32', dims, data: Array.from({ length: dims.reduce((p, d) => p * d, 1) }, (_, i) => Math.round(Math.sin(i * 1.7 + seed) * 50) / 10) });
const i64 = (name: string, data: number[], dims = [data.length]): Feed => ({ name, type: 'int64', dims, data });
const scalar = (name: string, v: number): Feed => ({ name, type: 'float32', dims: [], data: [v] });
const floats = (name: string, data: number[]): Feed => ({ name, type: 'float32', dims: [data.length], data });
const y = [{ name: 'y', type: 'float32' as const }];

const CASES: Case[] = [
  // 0 copies the input's dim, −1 is inferred; a Shape → ConstantOfShape after it reads the run-time dims.
  { name: 'reshape', feeds: [f32('x', [2, 3, 4]), i64('shape', [4, 0, -1])], nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }, { op: 'Shape', inputs: ['y'], outputs: ['s'] }, { op: 'ConstantOfShape', inputs: ['s'], outputs: ['z'], attrs: { value: { t: 'float32', v: 2.5 } } }], outputs: [{ name: 'y', type: 'float32' }, { name: 'z', type: 'float32' }], tflite: false },
  { name: 'expand', feeds: [f32('x', [3, 1]), i64('shape', [2, 1, 4])], nodes: [{ op: 'Expand', inputs: ['x', 'shape'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  { name: 'constant-of-shape', feeds: [i64('shape', [2, 3])], nodes: [{ op: 'ConstantOfShape', inputs: ['shape'], attrs: { value: { t: 'float32', v: 1.5 } } }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  { name: 'slice', feeds: [f32('x', [4, 6]), i64('starts', [1, 5]), i64('ends', [4, 0]), i64('axes', [0, 1]), i64('steps', [2, -2])], nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes', 'steps'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  { name: 'tile', feeds: [f32('x', [2, 3]), i64('repeats', [2, 1])], nodes: [{ op: 'Tile', inputs: ['x', 'repeats'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  { name: 'pad', feeds: [f32('x', [2, 3]), i64('pads', [1, 0, 0, 2]), scalar('value', -1.5)], nodes: [{ op: 'Pad', inputs: ['x', 'pads', 'value'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  { name: 'range', feeds: [scalar('start', 1), scalar('limit', 4.2), scalar('delta', 0.5)], nodes: [{ op: 'Range', inputs: ['start', 'limit', 'delta'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: false },
  // No new dims: Maximum/Minimum, a mask from a run-time comparison, scalar Muls, float arithmetic.
  { name: 'clip', feeds: [f32('x', [3, 4]), scalar('min', -1.2), scalar('max', 2)], nodes: [{ op: 'Clip', inputs: ['x', 'min', 'max'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: true },
  { name: 'clip-max-only', feeds: [f32('x', [3, 4]), scalar('max', 0.5)], nodes: [{ op: 'Clip', inputs: ['x', '', 'max'] }], outputs: [{ name: 'y', type: 'float32' }], tflite: true },
  { name: 'trilu', feeds: [f32('x', [2, 4, 5]), i64('k', [-1], [])], nodes: [{ op: 'Trilu', inputs: ['x', 'k'], attrs: { upper: 0 } }], outputs: [{ name: 'y', type: 'float32' }], tflite: true },
  { name: 'gemm', feeds: [f32('a', [2, 3]), f32('b', [4, 3], 2), f32('c', [4], 3)], nodes: [{ op: 'Gemm', inputs: ['a', 'b', 'c'], attrs: { alpha: 0.5, beta: 2.5, transB: 1 } }], outputs: [{ name: 'y', type: 'float32' }], tflite: true },
  { name: 'dequantize', feeds: [{ name: 'q', type: 'uint8', dims: [2, 3], data: [0, 7, 128, 200, 255, 3] }, { name: 'scale', type: 'float32', dims: [3], data: [0.5, 0.25, 2] }, { name: 'zp', type: 'uint8', dims: [3], data: [128, 0, 3] }], nodes: [{ op: 'DequantizeLinear', inputs: ['q', 'scale', 'zp'], attrs: { axis: 1 } }], outputs: [{ name: 'y', type: 'float32' }], tflite: true },
  // Resize: output sizes computed when it runs, from fed scales (floor(dim · scale)), sizes or roi.
  { name: 'resize-scales-linear', opset: 13, feeds: [f32('x', [1, 1, 4, 5]), floats('scales', [1, 1, 0.6, 1.7])], nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], attrs: { mode: 'linear' } }], outputs: y, tflite: false },
  { name: 'resize-scales-nearest', opset: 13, feeds: [f32('x', [1, 2, 3, 2]), floats('scales', [1, 1, 2, 3])], nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], attrs: { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' } }], outputs: y, tflite: false },
  { name: 'resize-sizes-cubic', opset: 13, feeds: [f32('x', [1, 1, 4, 4]), i64('sizes', [1, 1, 3, 6])], nodes: [{ op: 'Resize', inputs: ['x', '', '', 'sizes'], attrs: { mode: 'cubic', coordinate_transformation_mode: 'pytorch_half_pixel' } }], outputs: y, tflite: false },
  { name: 'resize-crop', opset: 13, feeds: [f32('x', [1, 1, 4, 4]), floats('roi', [0, 0, 0.3, 0.1, 1, 1, 1.2, 0.8]), i64('sizes', [1, 1, 3, 3])], nodes: [{ op: 'Resize', inputs: ['x', 'roi', '', 'sizes'], attrs: { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: 7.5 } }], outputs: y, tflite: false },
  // Opset 18's axes: the executor resizes only those; the ONNX writer (opset 17) refuses them.
  { name: 'resize-axes', opset: 18, feeds: [f32('x', [2, 3, 4]), floats('scales', [1.5, 0.5])], nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], attrs: { mode: 'linear', axes: [1, 2] } }], outputs: y, tflite: false, onnxRefuses: /axes \[1,2\] need ONNX opset 18/ },
  { name: 'upsample', opset: 9, feeds: [f32('x', [1, 1, 2, 3]), floats('scales', [1, 1, 2, 1.5])], nodes: [{ op: 'Upsample', inputs: ['x', 'scales'], attrs: { mode: 'nearest' } }], outputs: y, tflite: false },
  // Split by fed sizes: each output has its own run-time dims; a Shape of the last reads them.
  { name: 'split', opset: 13, feeds: [f32('x', [2, 6]), i64('split', [1, 3, 2])], nodes: [{ op: 'Split', inputs: ['x', 'split'], outputs: ['a', 'b', 'c'], attrs: { axis: 1 } }, { op: 'Shape', inputs: ['c'], outputs: ['s'] }, { op: 'ConstantOfShape', inputs: ['s'], outputs: ['z'], attrs: { value: { t: 'float32', v: 3 } } }], outputs: [{ name: 'a', type: 'float32' }, { name: 'b', type: 'float32' }, { name: 'c', type: 'float32' }, { name: 'z', type: 'float32' }], tflite: false },
];

describe('run-time shape inputs against onnxruntime', async () => {
  const tf = await loadTf('wasm');
  const dir = tempDir();
  for (const c of CASES)
    it(c.name, async () => {
      const bytes = model(c);
      const want = await runOrt(bytes, c.feeds);
      const file = join(dir, `${c.name}.onnx`);
      writeFileSync(file, bytes);
      const graph = readOnnxModel(file, bytes);

      const ex = new GraphExecutor(tf, graph);
      const outs = ex.run(Object.fromEntries(c.feeds.map((f) => [f.name, f.type === 'float32' ? tf.tensor(f.data, f.dims, 'float32') : tf.tensor(f.data, f.dims, 'int32')])));
      outs.forEach((o, i) => close({ dims: o.shape, data: o.dataSync() as Float32Array }, want[i]!));
      tf.dispose(outs);
      ex.dispose();

      if (c.onnxRefuses) expect(() => exportOnnx(graph, `${c.name}.onnx`)).toThrow(c.onnxRefuses);
      else (await runOrt(exportOnnx(graph, `${c.name}.onnx`).model, c.feeds)).forEach((o, i) => close(o, want[i]!));

      if (!c.tflite) {
        expect(() => exportTflite(graph, `${c.name}.tflite`)).toThrow(/run-time shape/);
        try {
          exportTflite(graph, `${c.name}.tflite`);
        } catch (e) {
          expect(e).toBeInstanceOf(EdgelmError);
          expect((e as EdgelmError).code).toBe('unsupported');
        }
        return;
      }
      const s = await openLiteRt(exportTflite(graph, `${c.name}.tflite`), `${c.name}.tflite`);
      const got = await s.run(s.inputs.map((inp) => {
        const f = c.feeds.find((x) => x.name === inp.name)!;
        return { data: inp.dtype === 'float32' ? Float32Array.from(f.data) : inp.dtype === 'uint8' ? Uint8Array.from(f.data) : Int32Array.from(f.data), shape: f.dims };
      }));
      s.dispose();
      got.forEach((o, i) => close({ dims: o.shape, data: o.data }, want[graph.outputs.findIndex((g) => g.name === s.outputs[i]!.name)]!));
    });
});
