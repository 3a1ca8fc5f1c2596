// Resize beyond the conformance suite's cases: the TFLite builtins (RESIZE_BILINEAR,
// RESIZE_NEAREST_NEIGHBOR) where they compute ONNX's definition, the general composition elsewhere,
// and a run-time batch. Models are built here with onnx-proto; onnxruntime on each is the reference.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { OP } from '../../src/export/tflite/schema.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Tf } from '../../src/ir/op.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { maxRelError, readOnnxBytes, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

interface Spec {
  mode: 'nearest' | 'linear' | 'cubic';
  coord: string;
  nearest?: string;
  /** [N, C, H, W] in and the output's H, W. */
  shape: [number | string, number, number, number];
  out: [number, number];
  /** Give scales (out/in) instead of sizes. */
  byScales?: boolean;
}

function resizeModel(s: Spec): Uint8Array {
  const [, c, h, w] = s.shape;
  const dims = (shape: (number | string)[]) => ({ dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
  const inits = s.byScales
    ? [{ name: 'scales', dataType: 1, dims: [4], floatData: [1, 1, s.out[0] / h, s.out[1] / w] }]
    : [{ name: 'sizes', dataType: 7, dims: [4], int64Data: [typeof s.shape[0] === 'number' ? s.shape[0] : 1, c, ...s.out] }];
  const attribute = [
    { name: 'mode', type: 3, s: new TextEncoder().encode(s.mode) },
    { name: 'coordinate_transformation_mode', type: 3, s: new TextEncoder().encode(s.coord) },
    ...(s.nearest ? [{ name: 'nearest_mode', type: 3, s: new TextEncoder().encode(s.nearest) }] : []),
  ];
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'resize',
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: dims(s.shape) } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: dims([s.shape[0], c, ...s.out]) } } }],
      initializer: inits,
      node: [{ opType: 'Resize', name: 'resize', input: s.byScales ? ['x', '', 'scales'] : ['x', '', '', 'sizes'], output: ['y'], attribute }],
    },
  }).finish();
}

/** Distinct, non-monotonic pixels so that a wrong tap or weight shows. */
const pixels = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 10 + (i % 7));

async function runOrt(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

async function runTflite(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await openLiteRt(bytes, 'resize.tflite');
  try {
    const [y] = await s.run([{ data: x, shape }]);
    return y!.data as Float32Array;
  } finally {
    s.dispose();
  }
}


const dir = tempDir();
const read = (bytes: Uint8Array): ReturnType<typeof readOnnxModel> => readOnnxBytes(bytes, dir, 'resize');

const builtinOps = (bytes: Uint8Array): string[] => {
  const codes = lowerToTflite(read(bytes), 'resize.tflite').operators.map((o) => o.op);
  return (['RESIZE_BILINEAR', 'RESIZE_NEAREST_NEIGHBOR', 'GATHER'] as const).filter((k) => codes.includes(OP[k]));
};

const CASES: { name: string; spec: Spec; lowersTo: string }[] = [
  { name: 'nearest ×2, asymmetric/floor (PyTorch Upsample)', spec: { mode: 'nearest', coord: 'asymmetric', nearest: 'floor', shape: [1, 3, 5, 4], out: [10, 8] }, lowersTo: 'RESIZE_NEAREST_NEIGHBOR' },
  { name: 'nearest ×4, half_pixel/round_prefer_floor (ONNX default)', spec: { mode: 'nearest', coord: 'half_pixel', shape: [1, 2, 3, 3], out: [12, 12], byScales: true }, lowersTo: 'RESIZE_NEAREST_NEIGHBOR' },
  { name: 'nearest ×2, tf_half_pixel_for_nn/floor', spec: { mode: 'nearest', coord: 'tf_half_pixel_for_nn', nearest: 'floor', shape: [1, 2, 4, 3], out: [8, 6] }, lowersTo: 'RESIZE_NEAREST_NEIGHBOR' },
  { name: 'nearest ×3 (float32 i/3 is not exact in TFLite)', spec: { mode: 'nearest', coord: 'asymmetric', nearest: 'floor', shape: [1, 2, 4, 3], out: [12, 9] }, lowersTo: 'GATHER' },
  { name: 'nearest ×4 asymmetric/round_prefer_ceil', spec: { mode: 'nearest', coord: 'asymmetric', nearest: 'round_prefer_ceil', shape: [1, 1, 3, 3], out: [12, 12] }, lowersTo: 'GATHER' },
  { name: 'bilinear ×2 half_pixel (DeepLabV3, LR-ASPP)', spec: { mode: 'linear', coord: 'half_pixel', shape: [1, 3, 6, 5], out: [12, 10] }, lowersTo: 'RESIZE_BILINEAR' },
  { name: 'bilinear 6×5 → 13×7 pytorch_half_pixel', spec: { mode: 'linear', coord: 'pytorch_half_pixel', shape: [1, 2, 6, 5], out: [13, 7] }, lowersTo: 'RESIZE_BILINEAR' },
  { name: 'bilinear 5×4 → 9×11 align_corners', spec: { mode: 'linear', coord: 'align_corners', shape: [1, 2, 5, 4], out: [9, 11] }, lowersTo: 'RESIZE_BILINEAR' },
  { name: 'bilinear ×2 asymmetric by scales', spec: { mode: 'linear', coord: 'asymmetric', shape: [1, 2, 4, 4], out: [8, 8], byScales: true }, lowersTo: 'RESIZE_BILINEAR' },
  { name: 'bilinear downsampling 8×8 → 3×5 half_pixel', spec: { mode: 'linear', coord: 'half_pixel', shape: [1, 2, 8, 8], out: [3, 5] }, lowersTo: 'RESIZE_BILINEAR' },
  { name: 'cubic 5×4 → 9×7 half_pixel', spec: { mode: 'cubic', coord: 'half_pixel', shape: [1, 2, 5, 4], out: [9, 7] }, lowersTo: 'GATHER' },
];

describe('Resize', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await loadTf('wasm');
  });

  for (const { name, spec, lowersTo } of CASES) {
    it(`${name}: TFLite (${lowersTo}) in LiteRT and the executor match onnxruntime`, async () => {
      const bytes = resizeModel(spec);
      const shape = spec.shape as number[];
      const x = pixels(shape.reduce((p, d) => p * d, 1));
      const want = await runOrt(bytes, x, shape);
      expect(builtinOps(bytes)).toEqual([lowersTo]);
      const graph = read(bytes);
      expect(maxRelError(await runTflite(exportTflite(graph, 'resize.tflite'), x, shape), want)).toBeLessThan(1e-5);
      const ex = new GraphExecutor(tf, graph);
      const [y] = ex.run({ x: tf.tensor(x, shape) });
      expect(maxRelError(y!.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
      y!.dispose();
      ex.dispose();
    });
  }

  it('a run-time batch stays symbolic: the executor, the ONNX export (batch 3) and TFLite (batchSize 3) match onnxruntime', async () => {
    const spec: Spec = { mode: 'linear', coord: 'half_pixel', shape: ['N', 2, 3, 4], out: [6, 8], byScales: true };
    const bytes = resizeModel(spec);
    const graph = read(bytes);
    expect(graph.outputs[0]!.shape).toEqual(['N', 2, 6, 8]);
    const shape = [3, 2, 3, 4];
    const x = pixels(72);
    const want = await runOrt(bytes, x, shape);
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run({ x: tf.tensor(x, shape) });
    expect(y!.shape).toEqual([3, 2, 6, 8]);
    expect(maxRelError(y!.dataSync() as Float32Array, want)).toBeLessThan(1e-5);
    y!.dispose();
    ex.dispose();
    expect(maxRelError(await runOrt(exportOnnx(graph, 'resize.onnx').model, x, shape), want)).toBeLessThan(1e-5);
    expect(maxRelError(await runTflite(exportTflite(graph, 'resize.tflite', { batchSize: 3 }), x, shape), want)).toBeLessThan(1e-5);
  });
});
