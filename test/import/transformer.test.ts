// A causal transformer as torch.onnx.export writes it (opsets 13, 14 and 17: Gather embeddings, decomposed
// LayerNorm, Erf GELU, causal mask through Where, per-head Reshape/Transpose/MatMul): edgelm's import,
// its ONNX export and its TFLite export (int32 token ids) compute what onnxruntime computes on the source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { prng } from '../../src/train/loop.js';
import { argmaxAgreement, cli, fixture, ortTokenLogits, relError, tempDir } from '../helpers.js';

const [B, T, V] = [2, 32, 48];
const rand = prng(11);
const ids = Int32Array.from({ length: B * T }, () => Math.floor(rand() * V));
const dir = tempDir();

const ortLogits = (file: string): Promise<Float32Array> => ortTokenLogits(file, ids, [B, T]);
const agreement = (a: Float32Array, b: Float32Array): number => argmaxAgreement(a, b, V);

describe.each([13, 14, 17])('PyTorch-exported transformer, opset %i', (opset) => {
  const source = fixture('lm', `tiny-transformer-opset${opset}.onnx`);

  it('imports with LayerNorm and GELU recognized; the executor matches onnxruntime', async () => {
    const want = await ortLogits(source);
    const graph = readOnnxModel(source);
    const ops = new Set(graph.nodes.map((n) => n.op));
    expect(ops.has('layerNorm') && ops.has('gelu') && !ops.has('erf')).toBe(true);
    const tf = await loadTf('wasm');
    const ex = new GraphExecutor(tf, graph);
    const [y] = ex.run({ ids: tf.tensor(ids, [B, T], 'int32') });
    const got = y!.dataSync() as Float32Array;
    y!.dispose();
    ex.dispose();
    expect(relError(got, want)).toBeLessThan(1e-4);
  });

  it('exports to ONNX and TFLite with the same next-token predictions', async () => {
    const want = await ortLogits(source);
    const onnxOut = join(dir, `t${opset}.onnx`);
    const tflOut = join(dir, `t${opset}.tflite`);
    expect(cli(['export', source, '-o', onnxOut]).code).toBe(0);
    expect(cli(['export', source, '-o', tflOut, '--batch', String(B)]).code).toBe(0);
    expect(relError(await ortLogits(onnxOut), want)).toBeLessThan(1e-4);
    const s = await openLiteRt(readFileSync(tflOut), tflOut);
    expect(s.inputs[0]!.dtype).toBe('int32'); // LiteRT's JS API has no int64: ids are int32
    const [o] = await s.run([{ data: ids, shape: [B, T] }]);
    s.dispose();
    const got = o!.data as Float32Array;
    expect(relError(got, want)).toBeLessThan(1e-4);
    expect(agreement(got, want)).toBe(1);
  });
});

describe('weight-only int8 of the transformer', () => {
  it('ONNX and TFLite: every MatMul weight int8, next-token predictions kept', async () => {
    const source = fixture('lm', 'tiny-transformer-opset17.onnx');
    const want = await ortLogits(source);
    const q = JSON.parse(cli(['quantize', source, '-o', join(dir, 'tq.onnx'), '--json']).stdout) as { quantizedLayers: number; sizeRatio: number };
    expect(q.quantizedLayers).toBe(9); // qkv, proj, fc1, fc2 in 2 blocks, and the head
    expect(q.sizeRatio).toBeLessThan(0.35);
    expect(agreement(await ortLogits(join(dir, 'tq.onnx')), want)).toBeGreaterThanOrEqual(0.95);
    expect(cli(['quantize', source, '-o', join(dir, 'tq.tflite'), '--batch', String(B)]).code).toBe(0);
    const s = await openLiteRt(readFileSync(join(dir, 'tq.tflite')), 'tq.tflite');
    const [o] = await s.run([{ data: ids, shape: [B, T] }]);
    s.dispose();
    expect(agreement(o!.data as Float32Array, want)).toBeGreaterThanOrEqual(0.95);
  });
});

describe("edgelm's own ONNX export re-imports with GELU recognized", () => {
  it.each(['none', 'tanh'])('GELU approximate=%s: written as its decomposition, read back as gelu, same logits as onnxruntime', async (approximate) => {
    const graph = readOnnxModel(fixture('lm', 'tiny-transformer-opset17.onnx'));
    const variant = { ...graph, nodes: graph.nodes.map((n) => (n.op === 'gelu' ? { ...n, attrs: { ...n.attrs, approximate } } : n)) };
    const { exportModel } = await import('../../src/index.js');
    const file = join(dir, `gelu-${approximate}.onnx`);
    await exportModel(variant, 'onnx', file, []);
    const back = readOnnxModel(file);
    const gelus = back.nodes.filter((n) => n.op === 'gelu');
    expect(gelus).toHaveLength(2);
    expect(gelus.every((n) => n.attrs.approximate === approximate)).toBe(true);
    expect(back.nodes.some((n) => n.op === 'erf' || n.op === 'tanh')).toBe(false);
    const tf = await loadTf('wasm');
    const ex = new GraphExecutor(tf, back);
    const [y] = ex.run({ ids: tf.tensor(ids, [B, T], 'int32') });
    const got = y!.dataSync() as Float32Array;
    y!.dispose();
    ex.dispose();
    expect(relError(got, await ortLogits(file))).toBeLessThan(1e-4);
  });
});
