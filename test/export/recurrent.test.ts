// LSTM / GRU / RNN, Einsum and TopK beyond the conformance suite's cases: PyTorch nn.LSTM / nn.GRU
// exports and onnx.helper models (fixtures/recurrent/build.py) with bidirectional and reverse
// directions, peepholes, clip, other activations, linear_before_reset, sequence_lens of different
// lengths and layout 1. onnxruntime on the source is the reference for the executor, the ONNX export
// (in onnxruntime) and the TFLite export (in LiteRT).
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Tf } from '../../src/ir/op.js';
import { chooseDims } from '../../src/ir/passes/fix-dims.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { fixture } from '../helpers.js';

interface Feed {
  name: string;
  data: Float32Array | Int32Array;
  shape: number[];
}

const BATCH = 3;
/** Inputs for the graph's inputs, a symbolic batch fixed to 3; sequence lengths 5, 2, 4 (of 5 steps). */
function feeds(g: Graph): Feed[] {
  return g.inputs.map((v, j) => {
    const shape = v.shape.map((d) => (typeof d === 'number' ? d : BATCH));
    const n = shape.reduce((a, b) => a * b, 1);
    if (v.dtype === 'int32') return { name: v.name, data: Int32Array.from({ length: n }, (_, i) => [5, 2, 4][i % 3]!), shape };
    return { name: v.name, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + j) * 1.5), shape };
  });
}

const nums = (a: ArrayLike<number | bigint>): number[] => Array.from(a, Number);

async function runOrt(bytes: Uint8Array, fs: Feed[]): Promise<number[][]> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run(Object.fromEntries(fs.map((f) => [f.name, new ort.Tensor(f.data instanceof Int32Array ? 'int32' : 'float32', f.data, f.shape)])));
    return s.outputNames.map((o) => nums(out[o]!.data as ArrayLike<number | bigint>));
  } finally {
    await s.release();
  }
}

function expectClose(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  const bad = want.findIndex((w, i) => !(Math.abs(got[i]! - w) <= 1e-4 + 1e-4 * Math.abs(w)));
  expect(bad, `${what}: element ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
}

/** Batch-major ([batch, seq, …]) input x of the layout-1 twin → the layout-0 model's [seq, batch, …]. */
function seqMajor(f: Feed): Feed {
  const [b, t, k] = f.shape as [number, number, number];
  const data = new Float32Array(f.data.length);
  for (let i = 0; i < b; i++) for (let s = 0; s < t; s++) for (let c = 0; c < k; c++) data[(s * b + i) * k + c] = f.data[(i * t + s) * k + c]!;
  return { ...f, data, shape: [t, b, k] };
}

const CASES: { file: string; reference?: (fs: Feed[]) => Promise<number[][]> }[] = [
  { file: 'torch-lstm.onnx' },
  { file: 'torch-gru-bi2.onnx' },
  { file: 'lstm-bidi-peep-clip.onnx' },
  { file: 'lstm-rev-lens-layout0.onnx' },
  {
    // onnxruntime runs layout 0 only: the reference is the layout-0 twin (same weights) on transposed inputs.
    file: 'lstm-rev-lens-layout1.onnx',
    reference: async (fs) => {
      const twin = new Uint8Array(readFileSync(fixture('recurrent', 'lstm-rev-lens-layout0.onnx')));
      const [b, t, dirs, h] = [3, 5, 1, 3];
      const state = (f: Feed): Feed => ({ ...f, data: transpose3(f.data as Float32Array, [b, dirs, h]), shape: [dirs, b, h] });
      const [y, yh, yc] = await runOrt(twin, [seqMajor(fs[0]!), fs[1]!, state(fs[2]!), state(fs[3]!)]);
      // Y [seq, dirs, batch, hidden] → [batch, seq, dirs, hidden]; Y_h, Y_c [dirs, batch, hidden] → [batch, dirs, hidden].
      const y1 = new Array<number>(y!.length);
      for (let s = 0; s < t; s++) for (let i = 0; i < b; i++) for (let c = 0; c < h; c++) y1[(i * t + s) * h + c] = y![(s * b + i) * h + c]!;
      return [y1, nums(transpose3(Float32Array.from(yh!), [dirs, b, h])), nums(transpose3(Float32Array.from(yc!), [dirs, b, h]))];
    },
  },
  { file: 'gru-reverse-acts.onnx' },
  { file: 'gru-bidi-lbr-lens.onnx' },
  { file: 'rnn-bidi-relu-lens.onnx' },
  { file: 'einsum-attention.onnx' },
  { file: 'einsum-projection.onnx' },
  { file: 'einsum-chain.onnx' },
  { file: 'einsum-trace.onnx' },
  { file: 'topk-axis0-smallest.onnx' },
];

/** Swaps the first two axes of a rank-3 array of shape `shape`. */
function transpose3(a: Float32Array, shape: [number, number, number]): Float32Array {
  const [p, q, r] = shape;
  const out = new Float32Array(a.length);
  for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) for (let k = 0; k < r; k++) out[(j * p + i) * r + k] = a[(i * q + j) * r + k]!;
  return out;
}

describe('recurrences, Einsum and TopK', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  for (const { file, reference } of CASES) {
    it(`${file}: the executor, the ONNX export (onnxruntime) and TFLite (LiteRT) match onnxruntime`, async () => {
      const path = fixture('recurrent', file);
      const bytes = new Uint8Array(readFileSync(path));
      const graph = readOnnxModel(path, bytes);
      const fs = feeds(graph);
      const want = reference ? await reference(fs) : await runOrt(bytes, fs);
      expect(want.length).toBe(graph.outputs.length);

      const ex = new GraphExecutor(tf, graph);
      const got = ex.run(Object.fromEntries(fs.map((f) => [f.name, tf.tensor(f.data, f.shape, f.data instanceof Int32Array ? 'int32' : 'float32')])));
      got.forEach((t, i) => expectClose(nums(t.dataSync()), want[i]!, `executor output ${i}`));
      got.forEach((t) => t.dispose());
      ex.dispose();

      const onnxOut = await runOrt(exportOnnx(graph, 'out.onnx').model, fs);
      onnxOut.forEach((o, i) => expectClose(o, want[i]!, `ONNX export output ${i}`));

      const lite = await openLiteRt(exportTflite(graph, 'out.tflite', { dims: chooseDims(graph, Object.fromEntries(fs.map((f) => [f.name, f.shape]))) }), 'out.tflite');
      try {
        const outs = await lite.run(fs.map((f) => ({ data: f.data, shape: f.shape })));
        outs.forEach((o, i) => expectClose(nums(o.data as ArrayLike<number>), want[i]!, `TFLite output ${i}`));
      } finally {
        lite.dispose();
      }
    });
  }

  // The unrolled steps read the weights as constants (sliced at import), so dynamic int8 quantizes them.
  for (const file of ['torch-lstm.onnx', 'torch-gru-bi2.onnx']) {
    it(`${file}: dynamic int8 ONNX (onnxruntime) and TFLite (LiteRT) stay within 0.01 of onnxruntime on the float source`, async () => {
      const path = fixture('recurrent', file);
      const bytes = new Uint8Array(readFileSync(path));
      const source = readOnnxModel(path, bytes);
      const fs = feeds(source);
      const [want] = await runOrt(bytes, fs);
      const { graph, plan } = await quantizeModel(source, { mode: 'dynamic' });
      const near = (got: number[]): void => {
        const err = Math.max(...got.map((v, i) => Math.abs(v - want![i]!)));
        expect(err).toBeGreaterThan(0); // the weights were quantized
        expect(err).toBeLessThan(0.01);
      };
      const [onnxY] = await runOrt(exportOnnx(graph, 'q.onnx', plan).model, fs);
      near(onnxY!);
      const lite = await openLiteRt(exportTflite(graph, 'q.tflite', { quant: plan, dims: chooseDims(graph, Object.fromEntries(fs.map((f) => [f.name, f.shape]))) }), 'q.tflite');
      try {
        const [y] = await lite.run(fs.map((f) => ({ data: f.data, shape: f.shape })));
        near(nums(y!.data as ArrayLike<number>));
      } finally {
        lite.dispose();
      }
    });
  }
});
