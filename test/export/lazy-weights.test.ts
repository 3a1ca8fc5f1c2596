// Weights of at least 1 MiB stay in the ONNX file until a writer reads them (src/ir/lazy-data.ts), and
// the ONNX writer writes large initializers as parts of their own (src/export/onnx/parts.ts). Checked
// against the source's values decoded here with onnx-proto, the int8 formula computed here, and
// onnxruntime on the source and on the written files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { OnnxGraphBuilder } from '../../src/export/onnx/proto.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { decodeModel, tensorFromProto } from '../../src/import/onnx/proto.js';
import { borrowData, isLazy } from '../../src/ir/lazy-data.js';
import { defaultPlan } from '../../src/quantize/plan.js';
import { cli, maxRelError, noise, tempDir } from '../helpers.js';

const dir = tempDir();
const [V, D, H] = [640, 512, 768]; // the table [V, D] and W [D, H]: 1.25 and 1.5 MiB of float32
const table = noise(V * D, 1);
const w = noise(D * H, 2).map((v) => v * 0.1);
const bias = noise(H, 3);

// ids → Gather(table) → Gemm(W, bias) [no transB] → Gemm(·, W2ᵀ) with transB, W2 a second [V, H] weight.
const w2 = noise(V * H, 4).map((v) => v * 0.05);
const src = join(dir, 'lazy.onnx');
{
  const b = new OnnxGraphBuilder('lazy');
  b.input('ids', 'int64', [4]);
  b.initializer('table', 'float32', [V, D], table);
  b.initializer('w', 'float32', [D, H], w);
  b.initializer('bias', 'float32', [H], bias);
  b.initializer('w2', 'float32', [V, H], w2);
  const e = b.node1('Gather', ['table', 'ids'], { axis: { i: 0 } });
  const h = b.node1('Gemm', [e, 'w', 'bias']);
  b.node('Gemm', [h, 'w2'], ['logits'], { transB: { i: 1 } });
  b.output('logits', 'float32', [4, V]);
  writeFileSync(src, b.encode({ opset: 17 }));
}
const ids = BigInt64Array.from([3n, 0n, 639n, 100n]);

async function logits(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  return (await s.run({ ids: new ort.Tensor('int64', ids, [4]) })).logits!.data as Float32Array;
}

describe('weights read lazily from the ONNX file', () => {
  it('keeps tensors of 1 MiB and more in the file until read, with the file’s values', () => {
    const g = readOnnxModel(src);
    const t = g.constants.get('w')!;
    expect([isLazy(t), isLazy(g.constants.get('table')!), isLazy(g.constants.get('bias')!)]).toEqual([true, true, false]);
    const file = decodeModel(src, readFileSync(src));
    const want = tensorFromProto(src, file.graph!.initializer!.find((i) => i.name === 'w')!).data as Float32Array;
    // Borrowed: the values, and the tensor still lazy; then read for good.
    expect(Array.from(borrowData(t) as Float32Array)).toEqual(Array.from(want));
    expect(isLazy(t)).toBe(true);
    expect(Array.from(t.data as Float32Array)).toEqual(Array.from(want));
    expect(isLazy(t)).toBe(false);
  });

  it('writes the float model in parts that join to the one-buffer encoding, and onnxruntime agrees with the source', async () => {
    const r = exportOnnx(readOnnxModel(src), join(dir, 'float.onnx'));
    expect(r.modelParts.length).toBeGreaterThan(1);
    const out = join(dir, 'float.onnx');
    expect(cli(['export', src, '-o', out]).code).toBe(0);
    expect(Buffer.compare(readFileSync(out), Buffer.from(r.model))).toBe(0);
    expect(maxRelError(await logits(out), await logits(src))).toBeLessThan(1e-5);
  });

  it('quantizes lazily read weights as the int8 formula on the source values gives (dynamic)', async () => {
    const out = join(dir, 'q8.onnx');
    const run = cli(['quantize', src, '-o', out]);
    expect(run.code, run.stderr).toBe(0);
    const m = decodeModel(out, readFileSync(out));
    const init = (name: string): Float32Array | Uint8Array => tensorFromProto(out, m.graph!.initializer!.find((i) => i.name === name)!).data as Float32Array | Uint8Array;
    // W [D, H] as uint8 codes + 128 with one scale per column: max|W[:, n]|/127, codes round(w/scale) (ties to even).
    const mmi = m.graph!.node!.find((n) => n.opType === 'MatMulInteger' && n.input![1]!.startsWith('w.q'))!;
    const codes = init(mmi.input![1]!);
    const scaleName = m.graph!.node!.find((n) => n.opType === 'Mul' && n.input!.some((v) => v.startsWith('w.scale')))!.input!.find((v) => v.startsWith('w.scale'))!;
    const scale = init(scaleName);
    const f32 = Math.fround;
    for (let n = 0; n < H; n++) {
      let mx = 0;
      for (let k = 0; k < D; k++) mx = Math.max(mx, Math.abs(w[k * H + n]!));
      expect(scale[n]).toBe(f32(f32(mx) / 127));
    }
    let off = 0;
    for (let i = 0; i < D * H; i++) {
      const y = f32(w[i]! * f32(1 / (scale[i % H] as number)));
      const r = Math.round(y);
      const q = (r - y === 0.5 && r % 2 !== 0 ? r - 1 : r) + 128;
      if (codes[i] !== q) off++;
    }
    expect(off).toBe(0);
    const [got, want] = [await logits(out), await logits(src)];
    expect(maxRelError(got, want)).toBeLessThan(0.05);
  });

  it('writes 4-bit blocks from lazily read weights that onnxruntime runs close to the source', async () => {
    const r = exportOnnx(readOnnxModel(src), join(dir, 'q4.onnx'), defaultPlan('dynamic', { bits: 4, granularity: 'block' }));
    writeFileSync(join(dir, 'q4.onnx'), r.model);
    expect(maxRelError(await logits(join(dir, 'q4.onnx')), await logits(src))).toBeLessThan(0.25);
  });

  it('writes the same bytes from lazily read weights as from weights decoded in memory (int8, 4-bit blocks)', () => {
    const bytes = readFileSync(src);
    for (const plan of [defaultPlan('dynamic'), defaultPlan('dynamic', { bits: 4, granularity: 'block' })]) {
      const eager = readOnnxModel(src, bytes);
      expect(isLazy(eager.constants.get('w')!)).toBe(false);
      const [a, b] = [exportOnnx(readOnnxModel(src), join(dir, 'x.onnx'), plan).model, exportOnnx(eager, join(dir, 'x.onnx'), plan).model];
      expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    }
  });
});
