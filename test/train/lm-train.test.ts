// A character transformer built as an edgelm Graph (fixtures/lib/char-transformer.ts) trains on the
// wasm backend through src/train (embeddings and learned positions included: the gradient of Gather
// is one of the kernels wasm lacks), and its ONNX export computes what the executor computes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildCharTransformer, charVocab, encodeChars, VOCAB_KEY, windows } from '../../fixtures/lib/char-transformer.js';
import { writeExport } from '../../src/export/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { train } from '../../src/train/loop.js';
import { crossEntropy } from '../../src/train/losses.js';
import { TrainableModel, trainableNames } from '../../src/train/model.js';
import { fixture, relError, tempDir } from '../helpers.js';

const text = readFileSync(fixture('lm', 'moby-train.txt'), 'utf8');
const vocab = charVocab(text);
const T = 16;
const options = { V: vocab.length, T, D: 32, H: 2, L: 1, FF: 64, seed: 3, vocab };

describe('wasm matrix products routed off the naive loop (src/runtime/tfjs/wasm-gradients.ts)', () => {
  // Transposed operands (every matMul gradient) and batches (attention) agree with the cpu backend.
  const CASES: [number[], number[], boolean, boolean][] = [
    [[24, 8], [24, 16], true, false],
    [[24, 8], [16, 8], false, true],
    [[8, 24], [16, 8], true, true],
    [[6, 5, 8], [6, 8, 7], false, false],
    [[2, 3, 8, 5], [2, 3, 7, 8], true, true],
    [[6, 5, 8], [6, 7, 8], false, true],
  ];
  it.each(CASES)('%j · %j (transposeA %s, transposeB %s)', async (sa, sb, ta, tb) => {
    const values = (shape: number[], seed: number): Float32Array => Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => Math.sin(i * 12.9898 + seed));
    const on = async (backend: 'wasm' | 'cpu'): Promise<Float32Array> => {
      const tf = await loadTf(backend);
      return tf.tidy(() => tf.matMul(tf.tensor(values(sa, 1), sa), tf.tensor(values(sb, 2), sb), ta, tb).dataSync() as Float32Array);
    };
    const want = await on('cpu');
    expect(relError(await on('wasm'), want)).toBeLessThan(1e-5);
  });
});

describe('character transformer trained with edgelm on wasm', () => {
  it('is deterministic and trains every weight but the mask', () => {
    const g = buildCharTransformer(options);
    verifyGraph(g);
    expect(buildCharTransformer(options).constants.get('tok_emb.weight')!.data).toEqual(g.constants.get('tok_emb.weight')!.data);
    const names = trainableNames(g);
    expect(names).toEqual(expect.arrayContaining(['tok_emb.weight', 'pos_emb.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.ln1.weight', 'logits.bias']));
    expect(names).not.toContain('causal_mask');
    expect(names).not.toContain('attn_scale');
    // Every float constant except the mask and the 1/sqrt(d) scalar is a parameter.
    expect(names.length).toBe([...g.constants.values()].filter((c) => c.dtype === 'float32').length - 2);
  });

  it('learns Moby-Dick: the loss falls well below ln(V); its ONNX export matches the executor', async () => {
    const tf = await loadTf('wasm');
    const g = buildCharTransformer(options);
    const data = windows(encodeChars(text.slice(0, 40_000), vocab), T, 8);
    const model = new TrainableModel(tf, g);
    const history = await train(tf, model, { x: data.x, y: data.y, shape: [data.n, T], source: 'moby' }, (z, b) => crossEntropy(tf, z, b.y!), {
      epochs: 1, batchSize: 16, lr: 1e-2, optimizer: 'adam', seed: 1,
    });
    const trained = model.toGraph();
    model.dispose();
    expect(Math.ceil(data.n / 16)).toBeGreaterThanOrEqual(300);
    expect(history[0]!.loss).toBeLessThan(Math.log(vocab.length) - 1);
    for (const name of ['tok_emb.weight', 'pos_emb.weight']) expect(trained.constants.get(name)!.data).not.toEqual(g.constants.get(name)!.data);
    expect(trained.constants.get('causal_mask')!.data).toEqual(g.constants.get('causal_mask')!.data);

    const file = join(tempDir(), 'lm.onnx');
    await writeExport(trained, 'onnx', file, []);
    expect(JSON.parse(readOnnxModel(file).metadata[VOCAB_KEY]!)).toEqual(vocab);
    const ids = data.x.slice(0, 4 * T);
    const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
    const r = await session.run({ ids: new ort.Tensor('int32', ids, [4, T]) });
    const ex = new GraphExecutor(tf, trained);
    const [want] = ex.run({ ids: tf.tensor(ids, [4, T], 'int32') });
    const got = r.logits!.data as Float32Array;
    const w = want!.dataSync();
    expect(Math.max(...got.map((v, i) => Math.abs(v - w[i]!)))).toBeLessThan(1e-4);
    expect(relError(got, w)).toBeLessThan(1e-5);
    want!.dispose();
    ex.dispose();
  }, 60_000);
});
