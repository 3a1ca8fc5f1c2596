// Models as users export them (fixtures/exports: torch.onnx.export with dynamic batch, sequence and
// past axes, opsets 13 and 17): edgelm imports them with run-time dims kept symbolic, and its
// executor, its ONNX export (onnxruntime) and its TFLite export (LiteRT, run-time dims fixed) compute
// what onnxruntime computes on the source file, at more than one run-time shape.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportModel } from '../../src/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { chooseDims } from '../../src/ir/passes/fix-dims.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { fixture, tempDir } from '../helpers.js';
import { MANIFEST, cosine, makeFeeds, runOrt, type Feed } from './inputs.js';

const dir = tempDir();
const FILES = Object.keys(MANIFEST);

async function runExecutor(file: string, feeds: Feed[]): Promise<Record<string, Float32Array>> {
  const graph = readOnnxModel(file);
  const tf = await loadTf('wasm');
  const ex = new GraphExecutor(tf, graph);
  const ys = ex.run(Object.fromEntries(feeds.map((f) => [f.name, f.dtype === 'int64' ? tf.tensor(Int32Array.from(f.data as BigInt64Array, Number), f.shape, 'int32') : tf.tensor(f.data as Float32Array, f.shape)])));
  const out = Object.fromEntries(graph.outputs.map((o, i) => [o.name, Float32Array.from(ys[i]!.dataSync() as Float32Array)]));
  ys.forEach((y) => y.dispose());
  ex.dispose();
  return out;
}

function expectClose(got: Record<string, Float32Array>, want: Record<string, Float32Array>, min: number): void {
  for (const [name, w] of Object.entries(want)) {
    expect(got[name], name).toBeDefined();
    expect(got[name]!.length, name).toBe(w.length);
    expect(Math.max(...w.map(Math.abs)), `${name}: the reference is all zeros`).toBeGreaterThan(1e-3);
    expect(cosine(got[name]!, w), name).toBeGreaterThanOrEqual(min);
  }
}

describe.each(FILES)('%s', (name) => {
  const m = MANIFEST[name]!;
  const file = fixture('exports', name);
  const sizes = [
    { batch: 2, seq: 5, past: 3 },
    { batch: 1, seq: 7, past: 1 },
  ];

  it('the executor matches onnxruntime at two run-time shapes', async () => {
    for (const s of sizes) {
      const feeds = makeFeeds(m, s);
      expectClose(await runExecutor(file, feeds), await runOrt(file, feeds), 0.9999);
    }
  });

  it('the ONNX export keeps the dynamic axes and matches onnxruntime on the source', async () => {
    const out = join(dir, `${name}`);
    await exportModel(readOnnxModel(file), 'onnx', out, [file]);
    for (const s of sizes) {
      const feeds = makeFeeds(m, s);
      expectClose(await runOrt(out, feeds), await runOrt(file, feeds), 0.9999);
    }
  });

  it('the TFLite export, run-time dims fixed, matches onnxruntime at those sizes in LiteRT', async () => {
    const graph = readOnnxModel(file);
    const s = { batch: 1, seq: 6, past: 2 };
    const feeds = makeFeeds(m, s);
    const dims = chooseDims(graph, Object.fromEntries(feeds.map((f) => [f.name, f.shape])));
    const out = join(dir, `${name}.tflite`);
    await exportModel(graph, 'tflite', out, [file], { dims });
    const rt = await openLiteRt(readFileSync(out), out);
    const order = rt.inputs.map((i) => feeds.find((f) => f.name === i.name)!);
    const ys = await rt.run(order.map((f) => ({ data: f.dtype === 'int64' ? Int32Array.from(f.data as BigInt64Array, Number) : (f.data as Float32Array), shape: f.shape })));
    const got = Object.fromEntries(rt.outputs.map((o, i) => [o.name, Float32Array.from(ys[i]!.data as Float32Array)]));
    rt.dispose();
    expectClose(got, await runOrt(file, feeds), 0.9999);
  });
});
