// Quantized ONNX files read back: edgelm's own `quantize` outputs (dynamic int8 — DequantizeLinear
// weights or DynamicQuantizeLinear → MatMulInteger, whichever the writer emits —, QDQ int8 with
// calibrated activations, 4-bit MatMulNBits blocks) inspect with the float source's parameters, run in
// edgelm's executor as onnxruntime runs them, and re-export to a float TFLite with its predictions.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { foldBatchNorm } from '../../src/ir/passes/fold-batchnorm.js';
import { inspectGraph } from '../../src/report/inspect.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { prng } from '../../src/train/loop.js';
import { argmaxAgreement, cli, fixture, mnistTest, relError, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const dir = tempDir();
const LENET = fixture('models', 'lenet-300-100.onnx');
const CNN = fixture('models', 'cnn-nchw.onnx');
const LM = fixture('lm', 'tiny-transformer-opset17.onnx');
const files = {
  lenet: join(dir, 'lenet-dynamic.onnx'),
  lm: join(dir, 'lm-dynamic.onnx'),
  cnn: join(dir, 'cnn-int8.onnx'),
  lm4: join(dir, 'lm-4bit.onnx'),
};

/** One batch per model: 200 held-out digits, or 2 × 32 random token ids. */
interface Batch {
  feed: (name: string) => ort.Tensor;
  tf: (tf: Awaited<ReturnType<typeof loadTf>>, shape: readonly (number | string)[]) => import('@tensorflow/tfjs-core').Tensor;
  lite: { data: Float32Array | Int32Array; shape: number[] };
  classes: number;
}
let digits: Batch;
const [B, T, V] = [2, 32, 48];
const rand = prng(5);
const ids = Int32Array.from({ length: B * T }, () => Math.floor(rand() * V));
const tokens: Batch = {
  feed: () => new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [B, T]),
  tf: (tf) => tf.tensor(ids, [B, T], 'int32'),
  lite: { data: ids, shape: [B, T] },
  classes: V,
};

/**
 * onnxruntime's output on a file. `spec`: graph optimizations off (each node run as its ONNX definition,
 * no fusion of Q/DQ into integer kernels) and MatMulInteger's int8 B rewritten to the equal uint8 form
 * (B + 128, zero point + 128): onnxruntime-node 1.x's u8·s8 kernel is not exact on this CPU (on the
 * dynamic transformer it moves logits by 20% of their range, and 5% of next tokens, against u8·u8 and
 * against the integer arithmetic), so the int8 form would test onnxruntime, not the reader.
 */
async function ortRun(file: string, batch: Batch, spec = false): Promise<Float32Array> {
  const path = spec ? unsignedWeights(file) : file;
  const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3, ...(spec ? { graphOptimizationLevel: 'disabled' as const } : {}) });
  const out = await s.run({ [s.inputNames[0]!]: batch.feed(s.inputNames[0]!) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

/** The file with every MatMulInteger's constant int8 B and zero point as uint8 (+128): the same products. */
function unsignedWeights(file: string): string {
  const model = onnx.ModelProto.decode(readFileSync(file));
  const g = model.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  let changed = false;
  for (const n of g.node!) {
    if (n.opType !== 'MatMulInteger') continue;
    for (const name of [n.input![1], n.input![3]]) {
      const t = name ? inits.get(name) : undefined;
      if (!t || t.dataType !== onnx.TensorProto.DataType.INT8) continue;
      const raw = t.rawData?.length ? Int8Array.from(t.rawData, (b) => (b << 24) >> 24) : Int8Array.from(t.int32Data ?? []);
      t.rawData = Uint8Array.from(raw, (v) => v + 128);
      t.int32Data = [];
      t.dataType = onnx.TensorProto.DataType.UINT8;
      changed = true;
    }
  }
  if (!changed) return file;
  const out = file.replace(/\.onnx$/, '.u8.onnx');
  writeFileSync(out, onnx.ModelProto.encode(model).finish());
  return out;
}

async function execute(graph: Graph, batch: Batch): Promise<Float32Array> {
  const tf = await loadTf('wasm');
  const ex = new GraphExecutor(tf, graph);
  const [y] = ex.run({ [graph.inputs[0]!.name]: batch.tf(tf, graph.inputs[0]!.shape) });
  const got = y!.dataSync() as Float32Array;
  y!.dispose();
  ex.dispose();
  return got;
}

const agreement = argmaxAgreement;

function inspectJson(file: string): { params: number; ops: Record<string, number>; tensors: { name: string; quantization?: { bits: number; blockSize?: number } }[] } {
  const r = cli(['inspect', file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReturnType<typeof inspectJson>;
}

beforeAll(async () => {
  const { x, n } = await mnistTest(200);
  digits = {
    feed: () => new ort.Tensor('float32', x, [n, 1, 28, 28]),
    tf: (tf, shape) => tf.tensor(x, [n, ...(shape.slice(1) as number[])]),
    lite: { data: x, shape: [n, 1, 28, 28] },
    classes: 10,
  };
  const runs: [string, string[]][] = [
    [files.lenet, [LENET]],
    [files.lm, [LM]],
    [files.cnn, [CNN, '--mode', 'int8', '--calibration', fixture('data', 'mnist-train.npz')]],
    [files.lm4, [LM, '--bits', '4', '--granularity', 'block']],
  ];
  for (const [out, [src, ...flags]] of runs) {
    const r = cli(['quantize', src!, '-o', out, ...flags]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 600_000);

describe('edgelm inspect of quantized ONNX files', () => {
  it('dynamic lenet-300-100: 266,610 params as in the float source, every weight 8-bit', () => {
    const r = inspectJson(files.lenet);
    expect(r.params).toBe(266610);
    expect(r.tensors.filter((t) => t.quantization?.bits === 8)).toHaveLength(3);
  }, 60_000);

  it('dynamic and 4-bit transformer: the float source parameters; 9 weights (+ int8 embedding rows) stored quantized', () => {
    // The float source as edgelm's ONNX writer writes it: its GELU decomposition (Div, Erf, Mul, Add) is
    // not fused back at import today, which leaves √2, ½ and 1 scalars per block in both counts.
    const floatOnnx = join(dir, 'lm-float.onnx');
    expect(cli(['export', LM, '-o', floatOnnx]).code).toBe(0);
    const float = inspectJson(floatOnnx).params;
    for (const [file, bits] of [[files.lm, 8], [files.lm4, 4]] as const) {
      const r = inspectJson(file);
      const stored = r.tensors.filter((t) => t.quantization);
      expect(stored.filter((t) => t.quantization!.bits === bits)).toHaveLength(bits === 8 ? 10 : 9);
      if (bits === 4) expect(stored.filter((t) => t.quantization!.blockSize === 32)).toHaveLength(9);
      expect(r.params).toBe(float);
    }
  }, 120_000);

  it('QDQ int8 CNN: the float source parameters once its batch norm is folded as the writer folds it', () => {
    const r = inspectJson(files.cnn);
    expect(r.params).toBe(inspectGraph(foldBatchNorm(readOnnxModel(CNN)), CNN).params);
    expect(r.ops.round).toBe(r.ops.clip); // one round and one saturation per quantized activation
    expect(r.tensors.filter((t) => t.quantization?.bits === 8)).toHaveLength(5);
    expect(r.tensors.filter((t) => t.quantization?.bits === 32)).toHaveLength(5); // int32 biases
  }, 60_000);
});

describe("edgelm's executor on quantized ONNX agrees with onnxruntime", () => {
  // The reader keeps the file's arithmetic (round half to even, saturation, dynamic ranges): measured
  // 2–7e-7 of the logits' range against onnxruntime running the nodes as specified. A rounding of
  // x/scale can still flip on an ulp of difference upstream (one quantization step), hence 1e-5.
  // onnxruntime's default (optimized) session fuses QDQ into integer kernels that requantize
  // differently: on the int8 CNN 0.10 of the range and 97.5% of argmaxes; the dynamic forms agree.
  it.each([
    ['dynamic lenet-300-100', 'lenet'],
    ['dynamic transformer', 'lm'],
    ['4-bit transformer (MatMulNBits)', 'lm4'],
    ['QDQ int8 CNN', 'cnn'],
  ] as const)('%s', async (_, key) => {
    const batch = key === 'lenet' || key === 'cnn' ? digits : tokens;
    const got = await execute(readOnnxModel(files[key]), batch);
    const want = await ortRun(files[key], batch, true);
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(agreement(got, want, batch.classes)).toBe(1);
  }, 120_000);

  it('MatMulNBits weights fold to what onnxruntime multiplies by (identity input), within 1e-5 relative', async () => {
    const model = onnx.ModelProto.decode(readFileSync(files.lm4));
    const g = model.graph!;
    const node = g.node!.find((n) => n.opType === 'MatMulNBits')!;
    const attr = (name: string): number => Number(node.attribute!.find((a) => a.name === name)!.i);
    const [K, N] = [attr('K'), attr('N')];
    const used = new Set(node.input!.slice(1));
    const single = onnx.ModelProto.create({
      irVersion: model.irVersion,
      opsetImport: model.opsetImport,
      graph: {
        name: 'one',
        node: [{ ...node, input: ['A', ...node.input!.slice(1)], output: ['Y'] }],
        initializer: g.initializer!.filter((t) => used.has(t.name!)),
        input: [{ name: 'A', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: K }, { dimValue: K }] } } } }],
        output: [{ name: 'Y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: K }, { dimValue: N }] } } } }],
      },
    });
    const file = join(dir, 'one-matmulnbits.onnx');
    writeFileSync(file, onnx.ModelProto.encode(single).finish());
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
    const want = (await s.run({ A: new ort.Tensor('float32', eye, [K, K]) })).Y!.data as Float32Array;
    const folded = readOnnxModel(file).constants.get(`${node.input![1]}/dequantized`)!;
    expect(folded.shape).toEqual([K, N]);
    expect(relError(folded.data as Float32Array, want)).toBeLessThan(1e-5);
  }, 60_000);
});

describe('re-export of quantized ONNX to TFLite (float, dequantized weights)', () => {
  const check = async (key: 'lenet' | 'lm' | 'lm4'): Promise<void> => {
    const batch = key === 'lenet' ? digits : tokens;
    const out = join(dir, `${key}.tflite`);
    const r = cli(['export', files[key], '-o', out, '--batch', String(batch.lite.shape[0])]);
    expect(r.code, r.stderr).toBe(0);
    const want = await ortRun(files[key], batch);
    const s = await openLiteRt(readFileSync(out), out);
    const [o] = await s.run([batch.lite]);
    s.dispose();
    expect(agreement(o!.data as Float32Array, want, batch.classes)).toBeGreaterThanOrEqual(0.99);
  };
  it('dynamic lenet-300-100: LiteRT predicts what onnxruntime predicts on the quantized file', () => check('lenet'), 120_000);
  it('dynamic transformer: LiteRT predicts what onnxruntime predicts on the quantized file', () => check('lm'), 120_000);
  it('4-bit transformer: LiteRT predicts what onnxruntime predicts on the quantized file', () => check('lm4'), 120_000);
});

describe('re-export of a QDQ int8 ONNX file to ONNX', () => {
  it('the fake-quantized activations (round half to even, saturation) are written back as Round/Clip and agree with onnxruntime on the source', async () => {
    const out = join(dir, 'cnn-int8-again.onnx');
    const r = cli(['export', files.cnn, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const spec = await ortRun(files.cnn, digits, true); // the QDQ file, each node as ONNX defines it
    const again = await ortRun(out, digits);
    expect(relError(again, spec)).toBeLessThan(1e-4);
    expect(agreement(again, spec, digits.classes)).toBe(1);
  }, 120_000);
});

describe('unsupported quantized ops', () => {
  it('a com.microsoft op edgelm does not map is refused by name with its node', async () => {
    const model = onnx.ModelProto.decode(readFileSync(files.lm4));
    const node = model.graph!.node!.find((n) => n.opType === 'MatMulNBits')!;
    node.opType = 'MatMulBnb4';
    const file = join(dir, 'bnb4.onnx');
    writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const r = cli(['export', file, '-o', join(dir, 'bnb4.tflite')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`unsupported op in the ONNX graph: com.microsoft.MatMulBnb4 (node ${node.name})`);
    // inspect reports the file itself and names the node.
    const i = cli(['inspect', file]);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toContain(`com.microsoft.MatMulBnb4 ×1 (${node.name})`);
  }, 60_000);
});
