// torchvision GoogLeNet as torch.onnx.export writes it (fixtures/exports/build.py, opsets 13 and 17, dynamic
// batch, 64x64 so the stride-2 ceil_mode MaxPools have windows hanging over the edge). Its 26 MB of weights are
// not committed: the fixture keeps the graph and each initializer's dims, and this file fills them from a
// seeded PRNG, fan-in scaled so activations keep their scale through the 22 layers. The filled model then goes
// through what the other exports do: the executor, `export` and `quantize` (dynamic, calibrated int8) to ONNX
// and TFLite, each compared with onnxruntime on the filled source.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { prng } from '../../src/train/loop.js';
import { cliAsync, fixture, tempDir, type CliResult } from '../helpers.js';
import { cosine, makeFeeds, runOrt, type Feed, type ManifestEntry } from './inputs.js';

const { onnx } = onnxProto;
const MANIFEST = JSON.parse(readFileSync(fixture('exports', 'googlenet.json'), 'utf8')) as Record<string, ManifestEntry & { stripped_floats: number; ceil_mode_overhang: string[] }>;
const dir = tempDir();

/**
 * The stripped export with every float initializer filled: Conv weights uniform with variance 2 / fan-in (ReLU
 * follows each), the classifier's with 1 / fan-in, biases uniform in ±0.1. Consumers say which is which.
 */
function fillWeights(stripped: Uint8Array, seed: number): { bytes: Uint8Array; filled: number } {
  const model = onnx.ModelProto.decode(stripped);
  const graph = model.graph!;
  const use = new Map<string, { op: string; index: number; transB: boolean }>();
  for (const n of graph.node!) {
    const transB = (n.attribute ?? []).some((a) => a.name === 'transB' && Number(a.i) === 1);
    n.input!.forEach((name, index) => use.set(name, use.get(name) ?? { op: n.opType!, index, transB }));
  }
  const rand = prng(seed);
  let filled = 0;
  for (const t of graph.initializer!) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const dims = t.dims!.map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const u = use.get(t.name!);
    let bound: number;
    if (u && u.index === 2) bound = 0.1;
    else if (u?.op === 'Conv' && u.index === 1) bound = Math.sqrt(6 / (dims[1]! * dims[2]! * dims[3]!));
    else if (u?.op === 'Gemm' && u.index === 1) bound = Math.sqrt(3 / dims[u.transB ? 1 : 0]!);
    else throw new Error(`no fill rule for initializer ${t.name} (${u?.op ?? 'unused'} input ${u?.index})`);
    const data = Float32Array.from({ length: n }, () => (rand() * 2 - 1) * bound);
    t.rawData = new Uint8Array(data.buffer);
    filled += n;
  }
  return { bytes: onnx.ModelProto.encode(model).finish(), filled };
}

const CLASSES = 1000;
const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const rows = (y: Float32Array): Float32Array[] => [y.subarray(0, CLASSES), y.subarray(CLASSES, 2 * CLASSES)];
const minus = (a: Float32Array, b: Float32Array): Float32Array => a.map((x, i) => x - b[i]!);

async function runExecutor(file: string, feed: Feed): Promise<Float32Array> {
  const graph = readOnnxModel(file);
  const tf = await loadTf('wasm');
  const ex = new GraphExecutor(tf, graph);
  const [y] = ex.run({ [feed.name]: tf.tensor(feed.data as Float32Array, feed.shape) });
  const out = Float32Array.from(y!.dataSync() as Float32Array);
  y!.dispose();
  ex.dispose();
  return out;
}

/** What the artifact at `file` computes on the batch of two images: ONNX at batch 2, TFLite (batch 1) twice. */
async function runArtifact(file: string, feed: Feed): Promise<Float32Array> {
  if (!file.endsWith('.tflite')) return Object.values(await runOrt(file, [feed]))[0]!;
  const rt = await openLiteRt(readFileSync(file), file);
  const image = (feed.data as Float32Array).length / 2;
  const out = new Float32Array(2 * CLASSES);
  for (const b of [0, 1]) {
    const [y] = await rt.run([{ data: (feed.data as Float32Array).slice(b * image, (b + 1) * image), shape: [1, ...feed.shape.slice(1)] }]);
    out.set(y!.data as Float32Array, b * CLASSES);
  }
  rt.dispose();
  return out;
}

/** Runs the CLI, as many at a time as there are cores (two at most): each call reads the 26 MB model. */
const slots = Math.min(2, availableParallelism());
let running = 0;
const queue: (() => void)[] = [];
async function cliLimited(args: string[]): Promise<CliResult> {
  while (running >= slots) await new Promise<void>((go) => queue.push(go));
  running++;
  try {
    return await cliAsync(args);
  } finally {
    running--;
    queue.shift()?.();
  }
}

describe.each(Object.keys(MANIFEST))('%s', (name) => {
  const m = MANIFEST[name]!;
  const base = name.replace('.stripped.onnx', '');
  const source = join(dir, `${base}.onnx`);
  const [feed] = makeFeeds(m, { batch: 2, seq: 1, past: 0 });
  const npy = join(dir, `${base}-calibration.npy`);
  const RUNS: Record<string, string[]> = { float: ['export'], dynamic: ['quantize', '--mode', 'dynamic'], int8: ['quantize', '--mode', 'int8', '--calibration', npy] };
  const written = new Map<string, Promise<CliResult>>();
  /** The artifact `kind`.`format`, once its CLI run has exited 0. */
  async function artifact(kind: string, format: string): Promise<string> {
    const out = join(dir, `${base}-${kind}.${format}`);
    const r = await written.get(out)!;
    expect(r.code, r.stderr).toBe(0);
    return out;
  }
  let want: Float32Array;
  /** How far apart the source's outputs for the two images are: the part of the logits the image decides. */
  let apart: number;

  beforeAll(async () => {
    const { bytes, filled } = fillWeights(readFileSync(fixture('exports', name)), 13);
    expect(filled).toBe(m.stripped_floats);
    writeFileSync(source, bytes);
    // The CLI writes the artifacts while the tests below check the first ones (~18 s of CPU per opset).
    const [calibration] = makeFeeds(m, { batch: 16, seq: 1, past: 0 }, 7);
    writeFileSync(npy, encodeNpy({ dtype: 'float32', shape: calibration!.shape, data: calibration!.data as Float32Array }));
    for (const [kind, args] of Object.entries(RUNS)) for (const f of ['onnx', 'tflite']) {
      const out = join(dir, `${base}-${kind}.${f}`);
      written.set(out, cliLimited([args[0]!, source, '-o', out, ...args.slice(1)]));
    }
    want = (await runOrt(source, [feed!])).output!;
    apart = norm(minus(...(rows(want) as [Float32Array, Float32Array])));
  });

  /**
   * Cosine to the source ≥ min (the other fixtures' thresholds), and each image's error at most `share` of the
   * distance between the two images' source outputs: random deep ReLU networks give every image similar logits
   * (cosine ≈ 0.996 here), so the cosine alone would pass an artifact that ignored its input.
   */
  function expectAgrees(got: Float32Array, min: number, share: number): void {
    expect(got.length).toBe(want.length);
    expect(cosine(got, want)).toBeGreaterThanOrEqual(min);
    rows(got).forEach((g, b) => expect(norm(minus(g, rows(want)[b]!)) / apart, `image ${b}`).toBeLessThanOrEqual(share));
  }

  it('the fixture has ceil_mode MaxPools whose last window hangs over the input (where ceil_mode matters)', () => {
    expect(m.ceil_mode_overhang.length).toBeGreaterThanOrEqual(3);
  });

  it('the filled source is not degenerate: finite logits that spread over the classes and differ between images', () => {
    expect(want.every(Number.isFinite)).toBe(true);
    for (const r of rows(want)) {
      const mean = r.reduce((s, x) => s + x, 0) / CLASSES;
      expect(norm(r.map((x) => x - mean)) / Math.sqrt(CLASSES)).toBeGreaterThan(0.1);
      expect(apart / norm(r)).toBeGreaterThan(0.03);
    }
  });

  it('the executor matches onnxruntime on a batch of 2', async () => {
    expectAgrees(await runExecutor(source, feed!), 0.9999, 0.01);
  });

  it.each(['onnx', 'tflite'])('export to .%s matches onnxruntime on the source', async (format) => {
    expectAgrees(await runArtifact(await artifact('float', format), feed!), 0.9999, 0.01);
  });

  // Quantization error stays well under what tells two images apart (measured: 0.14–0.15 dynamic, 0.21–0.30 int8).
  it.each(['onnx', 'tflite'])('quantize --mode dynamic to .%s agrees with onnxruntime on the source', async (format) => {
    expectAgrees(await runArtifact(await artifact('dynamic', format), feed!), 0.995, 0.5);
  });

  it.each(['onnx', 'tflite'])('quantize --mode int8, calibrated on 16 images, to .%s agrees with onnxruntime on the source', async (format) => {
    expectAgrees(await runArtifact(await artifact('int8', format), feed!), 0.995, 0.5);
  });
});
