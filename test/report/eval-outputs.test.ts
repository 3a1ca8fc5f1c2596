// eval on a model whose outputs are not class scores: a sigmoid score and an embedding. Every output is
// compared with the first model's (cosine, max abs error, SQNR, and for the one-value score the share of
// samples on the same side of 0.5); the figures are recomputed here from onnxruntime on the source and
// LiteRT on the export. --latency-runs 0 skips timing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { cli, noise, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const dir = tempDir();

function model(): Uint8Array {
  const value = (name: string, d: number) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: d }] } } } });
  const floats = (name: string, dims: number[], v: ArrayLike<number>) => ({ name, dataType: 1, dims, floatData: Array.from(v) });
  const graph = {
    name: 'twoheads',
    input: [value('x', 16)],
    output: [value('score', 1), value('embedding', 8)],
    initializer: [floats('w1', [16, 8], noise(128, 1)), floats('b1', [8], noise(8, 2)), floats('w2', [8, 1], noise(8, 3))],
    node: [
      { opType: 'Gemm', name: 'fc1', input: ['x', 'w1', 'b1'], output: ['h'] },
      { opType: 'Tanh', name: 'tanh', input: ['h'], output: ['embedding'] },
      { opType: 'MatMul', name: 'fc2', input: ['embedding', 'w2'], output: ['logit'] },
      { opType: 'Sigmoid', name: 'sigmoid', input: ['logit'], output: ['score'] },
    ],
  };
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }).finish();
}

interface Agreement { name: string; cosine: number; maxAbsError: number; sqnrDb: number; decisionAgreement?: number; threshold?: number }

it('reports every output against the reference: cosine, max abs error, SQNR, decisions at 0.5; no timing with --latency-runs 0', async () => {
  const src = join(dir, 'twoheads.onnx');
  writeFileSync(src, model());
  const n = 64;
  const x = noise(n * 16, 4).map((v) => v * 2);
  writeFileSync(join(dir, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [n, 16], data: x }));
  const tfl = join(dir, 'twoheads-dyn.tflite');
  expect(cli(['quantize', src, '-o', tfl]).code).toBe(0);
  const r = cli(['eval', src, tfl, '--data', join(dir, 'x.npy'), '--latency-runs', '0', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const [ref, art] = (JSON.parse(r.stdout) as { models: { latencyMs?: number; outputs?: Agreement[] }[] }).models;
  expect(ref!.latencyMs).toBeUndefined();
  expect(art!.outputs!.map((o) => o.name).sort()).toEqual(['embedding', 'score']);

  // The same figures from the runtimes directly, one sample at a time as LiteRT's static batch runs.
  const s = await ort.InferenceSession.create(src, { logSeverityLevel: 3 });
  const lrt = await openLiteRt(readFileSync(tfl), tfl);
  const want: Record<string, number[]> = { score: [], embedding: [] };
  const got: Record<string, number[]> = { score: [], embedding: [] };
  for (let i = 0; i < n; i++) {
    const xi = x.subarray(i * 16, (i + 1) * 16);
    const o = await s.run({ x: new ort.Tensor('float32', xi, [1, 16]) });
    for (const k of ['score', 'embedding']) want[k]!.push(...(o[k]!.data as Float32Array));
    const l = await lrt.run([{ data: xi, shape: [1, 16] }]);
    lrt.outputs.forEach((io, j) => got[io.name === 'score' ? 'score' : 'embedding']!.push(...(l[j]!.data as Float32Array)));
  }
  await s.release();
  lrt.dispose();
  for (const o of art!.outputs!) {
    const [a, b] = [got[o.name]!, want[o.name]!];
    const dot = a.reduce((t, v, i) => t + v * b[i]!, 0);
    const cos = dot / Math.sqrt(a.reduce((t, v) => t + v * v, 0) * b.reduce((t, v) => t + v * v, 0));
    const noiseE = a.reduce((t, v, i) => t + (v - b[i]!) ** 2, 0);
    expect(o.cosine).toBeCloseTo(cos, 6);
    expect(o.maxAbsError).toBeCloseTo(Math.max(...a.map((v, i) => Math.abs(v - b[i]!))), 5);
    expect(o.sqnrDb).toBeCloseTo(10 * Math.log10(b.reduce((t, v) => t + v * v, 0) / noiseE), 1);
    expect(o.cosine).toBeGreaterThan(0.99); // dynamic int8 weights on a 16→8→1 network
  }
  const score = art!.outputs!.find((o) => o.name === 'score')!;
  expect(score.threshold).toBe(0.5);
  expect(score.decisionAgreement).toBeCloseTo(got.score!.filter((v, i) => v > 0.5 === want.score![i]! > 0.5).length / n, 9);
});
