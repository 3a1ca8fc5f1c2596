// CumSum, ReduceLogSumExp and ArgMax beyond the conformance suite's cases (whose CumSum inputs are
// float64, which LiteRT's JS API cannot pass): float32 models built here with onnx-proto, onnxruntime
// on each as the reference for the executor, the ONNX export and the TFLite export in LiteRT.
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
import { readOnnxBytes, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

interface OnnxNode {
  opType: string;
  input: string[];
  attrs?: Record<string, number>;
}

/** x [2, 3, 4] float32 → nodes in a chain (each reads the previous output, plus initializers) → y. */
function model(nodes: OnnxNode[], inits: { name: string; dataType: number; dims: number[]; int64Data: number[] }[], outType: number, outShape: number[]): Uint8Array {
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ dimValue: d })) });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'reduce',
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: dims([2, 3, 4]) } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: outType, shape: dims(outShape) } } }],
      initializer: inits,
      node: nodes.map((n, i) => ({
        opType: n.opType,
        name: `n${i}`,
        input: [i === 0 ? 'x' : `t${i - 1}`, ...n.input],
        output: [i === nodes.length - 1 ? 'y' : `t${i}`],
        attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => (Array.isArray(v) ? { name, type: 7, ints: v } : { name, type: 2, i: v })),
      })),
    },
  }).finish();
}

const X_SHAPE = [2, 3, 4];
const input = (scale: number): Float32Array => Float32Array.from({ length: 24 }, (_, i) => (Math.sin(i * 1.3) * 5 + (i % 5)) * scale);

async function runOrt(bytes: Uint8Array, x: Float32Array): Promise<number[]> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run({ x: new ort.Tensor('float32', x, X_SHAPE) });
    return Array.from(out.y!.data as ArrayLike<number | bigint>, Number);
  } finally {
    await s.release();
  }
}

async function runTflite(bytes: Uint8Array, x: Float32Array): Promise<number[]> {
  const s = await openLiteRt(bytes, 'reduce.tflite');
  try {
    const [y] = await s.run([{ data: x, shape: X_SHAPE }]);
    return Array.from(y!.data as ArrayLike<number | bigint>, Number);
  } finally {
    s.dispose();
  }
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(want[i]!));
}

const dir = tempDir();
const read = (bytes: Uint8Array): ReturnType<typeof readOnnxModel> => readOnnxBytes(bytes, dir, 'reduce');

const axisInit = (v: number) => [{ name: 'axis', dataType: 7, dims: [], int64Data: [v] }];
const CASES: { name: string; bytes: Uint8Array; scale?: number }[] = [
  ...[0, 1].flatMap((exclusive) => [0, 1].map((reverse) => ({
    name: `CumSum axis 1, exclusive ${exclusive}, reverse ${reverse}`,
    bytes: model([{ opType: 'CumSum', input: ['axis'], attrs: { exclusive, reverse } }], axisInit(1), 1, X_SHAPE),
  }))),
  // Transpose first: the TFLite writer may keep the value in another physical order.
  { name: 'CumSum axis -1 after a Transpose', bytes: model([{ opType: 'Transpose', input: [], attrs: { perm: [0, 2, 1] as unknown as number } }, { opType: 'CumSum', input: ['axis'] }], axisInit(-1), 1, [2, 4, 3]) },
  // exp(90) overflows float32: only the max-shifted form stays finite.
  { name: 'ReduceLogSumExp of large values', bytes: model([{ opType: 'ReduceLogSumExp', input: [], attrs: { axes: [1] as unknown as number, keepdims: 0 } }], [], 1, [2, 4]), scale: 10 },
  { name: 'ArgMin with select_last_index on ties', bytes: model([{ opType: 'Floor', input: [] }, { opType: 'ArgMin', input: [], attrs: { axis: 2, select_last_index: 1 } }], [], 7, [2, 3, 1]), scale: 0.3 },
];

describe('reductions and running sums', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  for (const { name, bytes, scale } of CASES) {
    it(`${name}: the executor, the ONNX export and TFLite in LiteRT match onnxruntime`, async () => {
      const x = input(scale ?? 1);
      const want = await runOrt(bytes, x);
      expect(want.every(Number.isFinite)).toBe(true);
      const graph = read(bytes);
      const ex = new GraphExecutor(tf, graph);
      const [y] = ex.run({ x: tf.tensor(x, X_SHAPE) });
      expectClose(Array.from(y!.dataSync()), want);
      y!.dispose();
      ex.dispose();
      expectClose(await runOrt(exportOnnx(graph, 'reduce.onnx').model, x), want);
      expectClose(await runTflite(exportTflite(graph, 'reduce.tflite'), x), want);
    });
  }

  it('ReduceLogSumExp of slices of −∞ and +∞ gives −∞ and +∞ (the formula), in the executor, the ONNX export and TFLite', async () => {
    const bytes = model([{ opType: 'ReduceLogSumExp', input: [], attrs: { axes: [2] as unknown as number, keepdims: 0 } }], [], 1, [2, 3]);
    const x = input(1);
    x.fill(-Infinity, 0, 4);
    x.fill(Infinity, 4, 6);
    x[9] = -Infinity;
    const want = Array.from({ length: 6 }, (_, r) => Math.log(Array.from(x.subarray(r * 4, r * 4 + 4)).reduce((s, v) => s + Math.exp(v), 0)));
    expect(want.slice(0, 2)).toEqual([-Infinity, Infinity]);
    const close = (got: number[]): void => {
      expect(got.slice(0, 2)).toEqual([-Infinity, Infinity]);
      expectClose(got.slice(2), want.slice(2));
    };
    const graph = read(bytes);
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run({ x: tf.tensor(x, X_SHAPE) });
    close(Array.from(y!.dataSync()));
    y!.dispose();
    ex.dispose();
    close(await runOrt(exportOnnx(graph, 'reduce.onnx').model, x));
    // LiteRT gives 88.38 for the +∞ slice: its LOG kernel returns 88.38 for +∞ (checked on a lone Log), whatever the composition.
    const lite = await runTflite(exportTflite(graph, 'reduce.tflite'), x);
    expect(lite[0]).toBe(-Infinity);
    expectClose(lite.slice(2), want.slice(2));
  });
});
