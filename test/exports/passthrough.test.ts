// ONNX → ONNX quantization that keeps what it does not change: on a model with nodes edgelm's IR
// does not read (LpNormalization, an If on run-time data), the rewriter quantizes the products and
// writes every other node, subgraph, opset import and metadata entry byte for byte as the source has
// them; onnxruntime runs the result and agrees with the source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { defaultPlan } from '../../src/quantize/plan.js';
import { streamQuantizeOnnx } from '../../src/quantize/stream-onnx.js';
import { prng } from '../../src/train/loop.js';
import { fixture, tempDir } from '../helpers.js';
import { cosine, runOrt } from './inputs.js';

const { onnx } = onnxProto;
const source = fixture('exports', 'passthrough-17.onnx');
const dir = tempDir();
const decode = (file: string) => onnx.ModelProto.decode(readFileSync(file));
const nodeBytes = (n: onnxProto.onnx.INodeProto): string => Buffer.from(onnx.NodeProto.encode(n).finish()).toString('hex');

describe('ONNX rewriter on a model with ops outside the IR', () => {
  it.each([
    ['dynamic int8', defaultPlan('dynamic'), 'MatMulInteger', 0.999],
    ['4-bit blocks', defaultPlan('dynamic', { bits: 4, granularity: 'block', blockSize: 32 }), 'MatMulNBits', 0.99],
  ] as const)('%s: kept nodes byte-identical, products rewritten, onnxruntime agrees', async (label, plan, product, min) => {
    const out = join(dir, `${label.replace(/ /g, '-')}.onnx`);
    const r = streamQuantizeOnnx(source, out, plan);
    expect(r.quantized).toBe(2);
    // The If's branches (Identity, Neg) count among the nodes kept.
    expect(r.keptNodes).toEqual({ LpNormalization: 1, ReduceSum: 1, Greater: 1, If: 1, Add: 1, Identity: 1, Neg: 1 });
    const [a, b] = [decode(source), decode(out)];
    const written = new Set(b.graph!.node!.map(nodeBytes));
    const rewritten = new Set(['fc1', 'fc2']);
    for (const n of a.graph!.node!) if (!rewritten.has(n.name!)) expect(written.has(nodeBytes(n)), n.name!).toBe(true);
    expect(b.graph!.node!.some((n) => n.opType === product)).toBe(true);
    expect(b.metadataProps).toEqual(a.metadataProps);
    expect(Number(b.opsetImport!.find((o) => !o.domain)?.version)).toBe(17);
    // Positive and negative sums take both If branches.
    const rand = prng(3);
    for (const sign of [1, -1]) {
      const x = Float32Array.from({ length: 3 * 64 }, () => sign * (0.2 + rand()));
      const feeds = [{ name: 'x', dtype: 'float32' as const, shape: [3, 64], data: x }];
      const [got, want] = [await runOrt(out, feeds), await runOrt(source, feeds)];
      expect(cosine(got.y!, want.y!)).toBeGreaterThanOrEqual(min);
    }
  });
});

describe('ONNX rewriter, int8 QDQ with ranges calibrated in onnxruntime', () => {
  it('activations of the products behind QuantizeLinear → DequantizeLinear, weights int8 per channel; kept nodes byte-identical; onnxruntime agrees', async () => {
    const { rewriteOnnx } = await import('../../src/quantize/stream-onnx.js');
    const rand = prng(8);
    // Calibration samples of both signs, so both If branches are seen.
    const x = Float32Array.from({ length: 64 * 64 }, (_, i) => (Math.floor(i / 64) % 2 ? -1 : 1) * (0.2 + rand()));
    const out = join(dir, 'int8.onnx');
    const r = await rewriteOnnx(source, out, defaultPlan('int8'), { calibration: { x, shape: [64, 64], source: 'seeded' } });
    expect(r.quantized).toBe(2);
    const [a, b] = [decode(source), decode(out)];
    const written = new Set(b.graph!.node!.map(nodeBytes));
    for (const n of a.graph!.node!) if (!['fc1', 'fc2'].includes(n.name!)) expect(written.has(nodeBytes(n)), n.name!).toBe(true);
    expect(b.graph!.node!.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input![0])).toEqual(['x', 'hb']);
    for (const sign of [1, -1]) {
      const feeds = [{ name: 'x', dtype: 'float32' as const, shape: [3, 64], data: Float32Array.from({ length: 3 * 64 }, () => sign * (0.2 + rand())) }];
      const [got, want] = [await runOrt(out, feeds), await runOrt(source, feeds)];
      expect(cosine(got.y!, want.y!)).toBeGreaterThanOrEqual(0.99);
    }
  });
});

describe('lazy decoding of inline weights', () => {
  it('large initializers point into the file itself and read back equal to an eager decode', async () => {
    const { decodeModelLazily } = await import('../../src/import/onnx/scan.js');
    const { decodeModel, tensorFromProto } = await import('../../src/import/onnx/proto.js');
    const file = fixture('models', 'lenet-300-100.onnx');
    const lazy = decodeModelLazily(file);
    const eager = decodeModel(file, readFileSync(file));
    expect(lazy.graph!.node!.length).toBe(eager.graph!.node!.length);
    const external = lazy.graph!.initializer!.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
    expect(external.length).toBe(2); // 784×300 and 300×100; the 100×10 matrix (4,000 bytes) is under 4 KiB
    eager.graph!.initializer!.forEach((t, i) => {
      const [a, b] = [tensorFromProto(file, lazy.graph!.initializer![i]!), tensorFromProto(file, t)];
      expect(a.shape).toEqual(b.shape);
      expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))).toBe(true);
    });
  });
});

describe('edgelm quantize on a model with ops outside the IR', () => {
  it('ONNX → ONNX falls back to the rewriter and says so; TFLite is refused naming the op', async () => {
    const { cli } = await import('../helpers.js');
    const out = join(dir, 'cli-q4.onnx');
    const r = cli(['quantize', source, '-o', out, '--bits', '4', '--granularity', 'block', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { passedThrough: boolean; keptNodes: Record<string, number>; quantizedLayers: number };
    expect(j.passedThrough).toBe(true);
    expect(j.keptNodes.LpNormalization).toBe(1);
    expect(j.quantizedLayers).toBe(2);
    const feeds = [{ name: 'x', dtype: 'float32' as const, shape: [2, 64], data: Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)) }];
    expect(cosine((await runOrt(out, feeds)).y!, (await runOrt(source, feeds)).y!)).toBeGreaterThanOrEqual(0.99);
    const t = cli(['quantize', source, '-o', join(dir, 'cli.tflite')]);
    expect(t.code).toBe(2);
    expect(t.stderr.trim().split('\n')).toHaveLength(1);
    expect(t.stderr).toMatch(/LpNormalization \(node norm\)/);
  });
});

describe('inspect on a model outside the IR', () => {
  it('reports the file itself (initializers as onnx-proto decodes them) and names the nodes the IR cannot read', async () => {
    const { cli } = await import('../helpers.js');
    const r = cli(['inspect', source, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ops: Record<string, number>; params: number; tensors: { name: string; shape: number[]; bytes: number }[]; unreadable: { nodes: { op: string; node: string }[] } };
    const g = decode(source).graph!;
    const dims = (t: onnxProto.onnx.ITensorProto) => (t.dims ?? []).map(Number);
    expect(report.tensors.map((t) => [t.name, t.shape, t.bytes])).toEqual(g.initializer!.map((t) => [t.name, dims(t), t.rawData!.length]));
    const elements = (t: onnxProto.onnx.ITensorProto) => dims(t).reduce((p, d) => p * d, 1);
    expect(report.params).toBe(g.initializer!.map(elements).filter((n) => n > 1).reduce((s, n) => s + n, 0));
    expect(Object.values(report.ops).reduce((s, n) => s + n, 0)).toBe(g.node!.length);
    expect(report.unreadable.nodes).toEqual([{ op: 'LpNormalization', node: 'norm' }]);
    const text = cli(['inspect', source]);
    expect(text.stdout).toMatch(/nodes it cannot read: LpNormalization ×1 \(norm\)/);
  });
});
