// AWQ's fold is exact: with scales s folded (diag(s)⁻¹ into the norm, per-channel mul or linear layer
// before, diag(s) into the layers' weights) and no quantization, the float model computes what the
// source computes, both run in onnxruntime. On the trained character transformer every weight input
// but fc2's (after gelu, which no per-channel scale passes) folds: q/k/v and fc1 into their LayerNorm,
// the head into the final LayerNorm, proj into qkv's V columns and bias through split, reshape,
// transpose and softmax·V. A small graph covers a linear layer before relu and reshapes, a decomposed
// norm (mul by gamma, add beta), and the refusals: a residual reader, channels off the last axis.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportFiles } from '../../src/export/index.js';
import { loadModel } from '../../src/import/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph, Node } from '../../src/ir/graph.js';
import { applyScales, findFold, type FoldSite } from '../../src/quantize/awq-fold.js';
import { targets } from '../../src/quantize/gptq-layers.js';
import { defaultPlan } from '../../src/quantize/plan.js';
import { prng } from '../../src/train/loop.js';
import { fixture, noise, tempDir } from '../helpers.js';

const dir = tempDir();

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Every output of the ONNX file for `feeds`. */
async function run(file: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const out = await s.run(feeds);
  const values = s.outputNames.map((n) => Float32Array.from(out[n]!.data as Float32Array));
  await s.release();
  return values;
}

async function write(graph: Graph, name: string): Promise<string> {
  const [f] = await exportFiles(graph, 'onnx', join(dir, name));
  writeFileSync(f!.path, f!.bytes);
  return f!.path;
}

/** Each block weight input's fold site or refusal, and the weights reading it. */
function sites(graph: Graph): Map<string, { found: ReturnType<typeof findFold>; weights: { name: string; rowsFirst: boolean }[]; k: number }> {
  const out = new Map<string, { found: ReturnType<typeof findFold>; weights: { name: string; rowsFirst: boolean }[]; k: number }>();
  const list = targets(graph, defaultPlan('dynamic', { bits: 4, granularity: 'block', blockSize: 32 }));
  for (const t of list) {
    const x = t.inputs[0]!;
    const shape = graph.constants.get(t.weight)!.shape;
    const e = out.get(x) ?? out.set(x, { found: { reason: '' }, weights: [], k: t.rowsFirst ? shape[1]! : shape[0]! }).get(x)!;
    e.weights.push({ name: t.weight, rowsFirst: t.rowsFirst });
  }
  for (const [x, e] of out) e.found = findFold(graph, x, new Set<Node>(list.filter((t) => t.inputs[0] === x).flatMap((t) => t.nodes)));
  return out;
}

/** Random scales in [1/4, 4] (log-uniform) folded into every site that takes them. */
function foldAll(graph: Graph, found: ReturnType<typeof sites>, seed: number): Graph {
  const rand = prng(seed);
  const groups: { site: FoldSite; weights: { name: string; rowsFirst: boolean }[]; s: Float32Array }[] = [];
  for (const e of found.values()) if ('site' in e.found) groups.push({ site: e.found.site, weights: e.weights, s: Float32Array.from({ length: e.k }, () => 4 ** (2 * rand() - 1)) });
  return applyScales(graph, groups);
}

describe('AWQ fold', () => {
  it('char transformer: the float model with random scales folded gives the source\'s logits in onnxruntime (cos ≥ 0.99999)', async () => {
    const model = fixture('lm', 'char-transformer.onnx');
    const graph = await loadModel(model);
    const found = sites(graph);
    const folded = [...found.values()].filter((e) => 'site' in e.found);
    const sources = folded.map((e) => ('site' in e.found ? e.found.site.source : ''));
    expect(sources.sort()).toEqual([
      '/blocks/blocks.0/ln1/LayerNormalization_output_0',
      '/blocks/blocks.0/ln2/LayerNormalization_output_0',
      '/blocks/blocks.0/qkv/MatMul_output_0',
      '/blocks/blocks.1/ln1/LayerNormalization_output_0',
      '/blocks/blocks.1/ln2/LayerNormalization_output_0',
      '/blocks/blocks.1/qkv/MatMul_output_0',
      '/ln/LayerNormalization_output_0',
    ]);
    const refused = [...found.values()].filter((e) => 'reason' in e.found).map((e) => ('reason' in e.found ? e.found.reason : ''));
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r).toMatch(/gelu/);
    // proj's scales go into qkv's V columns and V's bias entries only (128 of 384 each).
    const proj = folded.find((e) => 'site' in e.found && e.found.site.source === '/blocks/blocks.0/qkv/MatMul_output_0')!;
    const edits = 'site' in proj.found ? proj.found.site.edits : [];
    expect(edits.map((e) => [e.constant, e.index.length])).toEqual([['onnx::MatMul_263', 128 * 128], ['blocks.0.qkv.bias', 128]]);
    expect(Math.min(...edits[1]!.index)).toBe(256);

    const scaled = foldAll(graph, found, 1);
    expect(scaled.constants.get('blocks.0.ln1.weight')!.data).not.toEqual(graph.constants.get('blocks.0.ln1.weight')!.data);
    expect(graph.constants.get('blocks.0.ln1.weight')!.data).toEqual((await loadModel(model)).constants.get('blocks.0.ln1.weight')!.data); // the source is left alone
    const rand = prng(2);
    const ids = BigInt64Array.from({ length: 4 * 64 }, () => BigInt(Math.floor(rand() * 49)));
    const feeds = { [graph.inputs[0]!.name]: new ort.Tensor('int64', ids, [4, 64]) };
    const [want] = await run(model, feeds);
    const [got] = await run(await write(scaled, 'folded.onnx'), feeds);
    expect(cosine(got!, want!)).toBeGreaterThanOrEqual(0.99999);
    // And a fold into the wrong channels is caught: the same scales with proj's reversed.
    const wrong = foldAll(graph, new Map([...found].map(([x, e]) => [x, 'site' in e.found && e.found.site.source.includes('qkv') ? { ...e, found: { site: { ...e.found.site, edits: e.found.site.edits.map((d) => ({ ...d, channel: d.channel.map((c) => 127 - c) })) } } } : e])), 1);
    const [bad] = await run(await write(wrong, 'wrong.onnx'), feeds);
    expect(cosine(bad!, want!)).toBeLessThan(0.9999);
  }, 60_000);

  it('a linear layer before relu and reshapes, a decomposed norm, and the refusals', async () => {
    const b = new GraphBuilder('folds');
    const x = b.addInput('x', 'float32', ['batch', 32]);
    const c = (name: string, shape: number[], seed: number, scale = 0.3) => b.addConstant({ name, dtype: 'float32', shape, data: Float32Array.from(noise(shape.reduce((p, d) => p * d, 1), seed), (v) => v * scale) });
    // dense → relu → [B, 4, 8] → transpose twice → [B, 32] → dense: folds into d1's columns and bias.
    const h = b.add1('relu', [b.add1('dense', [x, c('w1', [32, 32], 1), c('b1', [32], 2)], {}, { name: 'd1' })], {}, { name: 'r' });
    const t = b.add1('transpose', [b.add1('transpose', [b.add1('reshape', [h], { shape: [0, 4, 8] }, { name: 'split' })], { perm: [0, 2, 1] }, { name: 't1' })], { perm: [0, 2, 1] }, { name: 't2' });
    const merged = b.add1('reshape', [t], { shape: [0, 32] }, { name: 'merge' });
    const y1 = b.add1('dense', [merged, c('w2', [32, 16], 3)], {}, { name: 'd2' });
    // x·gamma + beta (a decomposed norm): folds into gamma and beta.
    const n = b.add1('add', [b.add1('mul', [x, c('gamma', [32], 4, 1)], {}, { name: 'g' }), c('beta', [32], 5)], {}, { name: 'bt' });
    const y2 = b.add1('dense', [n, c('w3', [32, 8], 6)], {}, { name: 'd3' });
    // A LayerNorm whose output also feeds a residual add: refused.
    const ln = b.add1('layerNorm', [x, c('lg', [32], 7, 1), c('lb', [32], 8)], { axis: -1, epsilon: 1e-5 }, { name: 'ln' });
    const y3 = b.add1('dense', [ln, c('w4', [32, 8], 9)], {}, { name: 'd4' });
    const res = b.add1('add', [ln, x], {}, { name: 'res' });
    // Channels regrouped off the last axis ([B, 4, 8]: each last position holds 4 channels): refused.
    const d5 = b.add1('dense', [x, c('w5', [32, 32], 10)], {}, { name: 'd5' });
    const regrouped = b.add1('reshape', [d5], { shape: [0, 4, 8] }, { name: 'fold8' });
    const y4 = b.add1('dense', [regrouped, c('w6', [8, 4], 11)], {}, { name: 'd6' });
    const graph = b.build('folds', 'edgelm', [y1, y2, y3, res, y4]);

    const found = sites(graph);
    const at = (v: string) => found.get(v)!.found;
    expect(at(merged)).toMatchObject({ site: { source: 'd1' } });
    expect(at(n)).toMatchObject({ site: { source: 'g' } });
    expect((at(n) as { site: FoldSite }).site.edits.map((e) => e.constant)).toEqual(['gamma', 'beta']);
    expect((at(ln) as { reason: string }).reason).toMatch(/res \(add\)/);
    expect((at(regrouped) as { reason: string }).reason).toMatch(/last axis/);
    expect((at(x) as { reason: string }).reason).toMatch(/model input/);

    const scaled = foldAll(graph, found, 3);
    const feeds = { x: new ort.Tensor('float32', noise(6 * 32, 12), [6, 32]) };
    const want = await run(await write(graph, 'folds-src.onnx'), feeds);
    const got = await run(await write(scaled, 'folds-scaled.onnx'), feeds);
    expect(want).toHaveLength(5);
    want.forEach((w, i) => expect(cosine(got[i]!, w)).toBeGreaterThanOrEqual(0.99999));
    expect(scaled.constants.get('w1')!.data).not.toEqual(graph.constants.get('w1')!.data);
    expect(scaled.constants.get('lg')!.data).toEqual(graph.constants.get('lg')!.data); // refused: untouched
  }, 60_000);
});
