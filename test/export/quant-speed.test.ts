// Layouts chosen for speed (issue 16, docs/benchmarks.md figure 11), checked in the runtimes themselves:
// onnxruntime's optimized graph of an int8 QDQ MobileNetV2 has every Conv fused into QLinearConv and no Clip
// left; dynamic-mode conv weights (Cast·scale) are folded at load, leaving no DequantizeLinear; and the
// files still compute the float model (cosine against onnxruntime on the float source).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeNpz } from '../../src/data/npz.js';
import { decodeModel } from '../../src/import/onnx/proto.js';
import { openRuntime } from '../../src/runtime/index.js';
import { cliAsync, fixture, noise, tempDir } from '../helpers.js';

const MOBILENET = fixture('exports', 'mobilenet-17.onnx'); // 52 Conv (35 with relu6), 10 residual Add
const dir = tempDir();
const x = noise(3 * 64 * 64, 7).map((v) => 2 * v);

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i]! * b[i]!, aa + a[i]! * a[i]!, bb + b[i]! * b[i]!];
  return ab / Math.sqrt(aa * bb);
};
async function run(file: string): Promise<Float32Array> {
  const s = await openRuntime(file);
  const [y] = await s.run(x, [1, 3, 64, 64]);
  s.dispose();
  return y!;
}
/** op type → count in the graph onnxruntime runs after its optimizations. */
async function optimizedOps(file: string): Promise<Record<string, number>> {
  const out = join(dir, 'optimized.onnx');
  const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'extended', optimizedModelFilePath: out });
  await s.release();
  const counts: Record<string, number> = {};
  for (const n of decodeModel(out, readFileSync(out)).graph!.node!) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  return counts;
}

describe('quantized MobileNetV2 layouts that the runtimes run fast', () => {
  it('int8 QDQ: onnxruntime fuses every Conv into QLinearConv and removes every Clip', async () => {
    const calib = join(dir, 'calib.npz');
    writeFileSync(calib, encodeNpz({ x: { dtype: 'float32', shape: [8, 3, 64, 64], data: noise(8 * 3 * 64 * 64, 3).map((v) => 2 * v) } }));
    const out = join(dir, 'int8.onnx');
    const r = await cliAsync(['quantize', MOBILENET, '-o', out, '--mode', 'int8', '--calibration', calib]);
    expect(r.code, r.stderr).toBe(0);
    const ops = await optimizedOps(out);
    expect(ops.QLinearConv).toBe(52);
    expect(ops.QLinearAdd).toBe(10);
    expect(ops.Conv ?? 0).toBe(0);
    expect(ops.Clip ?? 0).toBe(0);
    expect(cosine(await run(out), await run(MOBILENET))).toBeGreaterThan(0.98);
  }, 300_000);

  it('dynamic ONNX: conv weights are folded at load (no DequantizeLinear left)', async () => {
    const out = join(dir, 'dynamic.onnx');
    const r = await cliAsync(['quantize', MOBILENET, '-o', out, '--mode', 'dynamic']);
    expect(r.code, r.stderr).toBe(0);
    const ops = await optimizedOps(out);
    expect(ops.DequantizeLinear ?? 0).toBe(0);
    expect(ops.Cast ?? 0).toBe(0);
    expect(cosine(await run(out), await run(MOBILENET))).toBeGreaterThan(0.995);
  }, 300_000);

  it('dynamic TFLite: conv weights behind DEQUANTIZE compute the float model in LiteRT; float16 says LiteRT runs it slower', async () => {
    const out = join(dir, 'dynamic.tflite');
    const r = await cliAsync(['quantize', MOBILENET, '-o', out, '--mode', 'dynamic']);
    expect(r.code, r.stderr).toBe(0);
    expect(cosine(await run(out), await run(MOBILENET))).toBeGreaterThan(0.995);
    const h = await cliAsync(['quantize', MOBILENET, '-o', join(dir, 'f16.tflite'), '--mode', 'float16']);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/LiteRT runs float16 weights slower than float32.*--mode dynamic/);
  }, 300_000);
});
