// The TFLite layout of the two fixture language models (docs/benchmarks.md figure 11): every MatMul with a
// constant weight is a FULLY_CONNECTED with its bias inside (no separate ADD), the fused QKV projection is
// one FULLY_CONNECTED per piece (no SPLIT_V), BATCH_MATMUL only multiplies two run-time tensors, and no
// slice copies a constant at run time. Structure only; the numbers are
// checked against onnxruntime on the source model (float and dynamic int8).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTfliteInfo, type TfliteModelInfo } from '../../src/import/tflite/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { prng } from '../../src/train/loop.js';
import { cosine } from '../exports/inputs.js';
import { cliAsync, fixture, ortTokenLogits, tempDir } from '../helpers.js';

const dir = tempDir();
const rand = prng(5);
const ids = Int32Array.from({ length: 64 }, () => Math.floor(rand() * 49));

async function litertLogits(file: string): Promise<Float32Array> {
  const s = await openLiteRt(readFileSync(file), file);
  const [y] = await s.run([{ data: ids, shape: [1, 64] }]);
  s.dispose();
  return y!.data as Float32Array;
}

/** Structural facts of a written model: op counts and the layouts this file checks. */
function layout(info: TfliteModelInfo) {
  const isConst = (t: number): boolean => t >= 0 && info.tensors[t]!.data.length > 0;
  const producer = new Map(info.operators.flatMap((o) => o.outputs.map((t) => [t, o] as const)));
  const counts: Record<string, number> = {};
  for (const o of info.operators) counts[o.op] = (counts[o.op] ?? 0) + 1;
  return {
    counts,
    batchMatMulWithConstant: info.operators.filter((o) => o.op === 'BATCH_MATMUL' && o.inputs.some(isConst)).length,
    // A 1-D constant added to a FULLY_CONNECTED's result: a bias the FULLY_CONNECTED could hold.
    addAfterFc: info.operators.filter((o) => o.op === 'ADD' && o.inputs.some((t) => producer.get(t)?.op === 'FULLY_CONNECTED') && o.inputs.some((t) => isConst(t) && info.tensors[t]!.shape.length === 1)).length,
    sliceOfConstant: info.operators.filter((o) => (o.op === 'STRIDED_SLICE' || o.op === 'SLICE') && isConst(o.inputs[0]!)).length,
  };
}

const MODELS = [
  // 2 blocks: q, k, v, proj, fc1, fc2 each, and the head; MatMul, Add(bias), Split(q, k, v) in the ONNX graph.
  { name: 'char transformer (PyTorch)', file: fixture('lm', 'char-transformer.onnx'), dtype: 'int64' as const, fc: 13, fcDynamic: 9, attention: 4 },
  // 4 blocks (TF.js layers converted to ONNX): the same pattern.
  { name: 'TF.js-trained transformer', file: fixture('lm', 'tfjs-teacher.onnx'), dtype: 'int32' as const, fc: 25, fcDynamic: 17, attention: 8 },
];

describe.each(MODELS)('$name as TFLite', ({ file, dtype, fc, fcDynamic, attention, name }) => {
  const stem = name.split(' ')[0]!;
  it('float: biases inside FULLY_CONNECTED, no SPLIT_V, BATCH_MATMUL only on run-time operands, same logits as onnxruntime', async () => {
    const out = join(dir, `${stem}.tflite`);
    const r = await cliAsync(['export', file, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const l = layout(readTfliteInfo(out));
    expect(l.counts.FULLY_CONNECTED).toBe(fc);
    expect(l.counts.BATCH_MATMUL).toBe(attention);
    expect(l.counts.SPLIT_V ?? 0).toBe(0);
    expect(l.batchMatMulWithConstant).toBe(0);
    expect(l.addAfterFc).toBe(0);
    expect(l.sliceOfConstant).toBe(0);
    const [got, want] = [await litertLogits(out), await ortTokenLogits(file, ids, [1, 64], dtype)];
    expect(cosine(got, want)).toBeGreaterThanOrEqual(0.9999);
    expect(Math.max(...want.map((v, i) => Math.abs(v - got[i]!)))).toBeLessThan(1e-3);
  }, 120_000);

  it('dynamic int8: the same layout with int8 weights (hybrid FULLY_CONNECTED), close to onnxruntime on the float source', async () => {
    const out = join(dir, `${stem}-dynamic.tflite`);
    const r = await cliAsync(['quantize', file, '-o', out, '--mode', 'dynamic']);
    expect(r.code, r.stderr).toBe(0);
    const info = readTfliteInfo(out);
    const l = layout(info);
    // Per-tensor FULLY_CONNECTED weights (the default): one scale per QKV weight, so the split stays a SPLIT_V.
    expect(l.counts.FULLY_CONNECTED).toBe(fcDynamic);
    expect(l.addAfterFc).toBe(0);
    const fcWeights = info.operators.filter((o) => o.op === 'FULLY_CONNECTED').map((o) => info.tensors[o.inputs[1]!]!.dtype);
    expect(new Set(fcWeights)).toEqual(new Set(['int8']));
    expect(cosine(await litertLogits(out), await ortTokenLogits(file, ids, [1, 64], dtype))).toBeGreaterThanOrEqual(0.99);
    // Per-channel weights keep each row's scale in its piece: one FULLY_CONNECTED per piece again.
    const ch = join(dir, `${stem}-dynamic-channel.tflite`);
    const rc = await cliAsync(['quantize', file, '-o', ch, '--mode', 'dynamic', '--granularity', 'channel']);
    expect(rc.code, rc.stderr).toBe(0);
    expect(layout(readTfliteInfo(ch)).counts.FULLY_CONNECTED).toBe(fc);
    expect(cosine(await litertLogits(ch), await ortTokenLogits(file, ids, [1, 64], dtype))).toBeGreaterThanOrEqual(0.99);
  }, 120_000);
});
