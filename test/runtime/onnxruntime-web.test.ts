// The fallback runtime for .onnx files (onnxruntime-web's wasm build, used where onnxruntime-node is not
// installed, as after `npm install edgelm`) must compute what onnxruntime-node computes on edgelm's
// artifacts: float, QDQ int8, dynamic int8 (MatMulInteger), 4-bit blocks (MatMulNBits) and external data.
// The reference is onnxruntime-node itself, called directly.
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { openRuntime } from '../../src/runtime/index.js';
import { loadOnnxRuntime } from '../../src/runtime/onnxruntime.js';
import { prng } from '../../src/train/loop.js';
import { argmaxAgreement, cliAsync, fixture, mnistTest, relError, tempDir } from '../helpers.js';

const dir = tempDir();
const TRAIN = fixture('data', 'mnist-train.npz');

/** onnxruntime-node's first output for one float or int64 input. */
async function nodeOutput(file: string, x: Float32Array | Int32Array, shape: number[]): Promise<Float32Array> {
  const s = await ortNode.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  const type = s.inputMetadata[0]!.isTensor ? s.inputMetadata[0]!.type : 'float32';
  const t = type === 'int64' ? new ortNode.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), shape) : new ortNode.Tensor('float32', Float32Array.from(x), shape);
  const out = await s.run({ [s.inputNames[0]!]: t });
  const y = out[s.outputNames[0]!]!.data as Float32Array;
  await s.release();
  return y;
}

async function webOutput(file: string, x: Float32Array | Int32Array, shape: number[]): Promise<Float32Array> {
  const s = await openRuntime(file, { onnxRuntime: 'onnxruntime-web' });
  expect(s.backend).toMatch(/^onnxruntime-web 1\.\d+\.\d+ \(CPU kernels in WebAssembly/);
  const [y] = await s.run(x, shape);
  s.dispose();
  return y!;
}

const artifacts: Record<string, string> = {
  'float CNN (source)': fixture('models', 'cnn-nchw.onnx'),
  'float LeNet with external data': fixture('models', 'lenet-external', 'lenet.onnx'),
  'TF.js MLP exported to ONNX': join(dir, 'mlp.onnx'),
  'QDQ int8 CNN': join(dir, 'cnn-qdq.onnx'),
  'dynamic int8 LeNet (MatMulInteger)': join(dir, 'lenet-dyn.onnx'),
};

beforeAll(async () => {
  const runs = await Promise.all([
    cliAsync(['export', fixture('models', 'mlp'), '-o', artifacts['TF.js MLP exported to ONNX']!]),
    cliAsync(['quantize', fixture('models', 'cnn-nchw.onnx'), '-o', artifacts['QDQ int8 CNN']!, '--mode', 'int8', '--calibration', TRAIN, '--calibration-limit', '200']),
    cliAsync(['quantize', fixture('models', 'lenet-300-100.onnx'), '-o', artifacts['dynamic int8 LeNet (MatMulInteger)']!]),
    cliAsync(['quantize', fixture('lm', 'char-transformer.onnx'), '-o', join(dir, 'lm-q4.onnx'), '--bits', '4', '--granularity', 'block']),
  ]);
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
}, 240_000);

describe('onnxruntime-web (the fallback) agrees with onnxruntime-node on edgelm artifacts', () => {
  it.each(Object.keys(artifacts))('%s: 64 MNIST digits, logits within 1e-5, same top-1', async (name) => {
    const file = artifacts[name]!;
    const { x, n } = await mnistTest(64);
    const shape = name.includes('CNN') || name.includes('LeNet') ? [n, 1, 28, 28] : [n, 28, 28, 1];
    const want = await nodeOutput(file, x, shape);
    const got = await webOutput(file, x, shape);
    expect(got.length).toBe(n * 10);
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(argmaxAgreement(got, want, 10)).toBe(1);
  });

  it('4-bit block character LM (MatMulNBits, GatherBlockQuantized or int8 rows): next-token logits within 1e-4', async () => {
    const file = join(dir, 'lm-q4.onnx');
    const [B, T, V] = [4, 64, 49];
    const rand = prng(11);
    const ids = Int32Array.from({ length: B * T }, () => Math.floor(rand() * V));
    const want = await nodeOutput(file, ids, [B, T]);
    const got = await webOutput(file, ids, [B, T]);
    expect(got.length).toBe(B * T * V);
    expect(relError(got, want)).toBeLessThan(1e-4);
    expect(argmaxAgreement(got, want, V)).toBeGreaterThan(0.99);
  });

  it('names the build it loaded; onnxruntime-node is the default where it loads', async () => {
    const web = await loadOnnxRuntime('onnxruntime-web');
    expect([web.backend, web.version]).toEqual(['onnxruntime-web', (await import('onnxruntime-web')).env.versions.web]);
    // In this repository onnxruntime-node is installed (a dev dependency), so it is the default here.
    expect((await loadOnnxRuntime()).backend).toBe('onnxruntime-node');
    expect((await openRuntime(fixture('models', 'ops-zoo.onnx'))).backend).toMatch(/^onnxruntime-node 1\.\d+\.\d+ \(native CPU/);
  });
});
