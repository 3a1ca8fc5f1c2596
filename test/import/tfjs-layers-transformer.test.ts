// Transformer language models saved as TF.js LayersModels: the reader + executor compute what TF.js
// computes, and the ONNX and TFLite exports (int32 token ids) agree in onnxruntime and LiteRT.
//
// What TF.js 4.22 lets a user save (checked here, see the report of this feature):
// - MultiHeadAttention, TransformerDecoder (tfjs-layers' nlp folder, outside the public namespace) do
//   not track their sublayers' weights, so model.save writes none of them; a functional model with
//   MultiHeadAttention cannot even predict (LayersModel.predict drops the call's value= argument).
//   Files converted from Keras carry both (value= as a keyword reference, use_causal_mask, weights
//   "<layer>/query/kernel" …); that form is built below from a live TF.js MultiHeadAttention.
// - PositionEmbedding saves its table and works; Dense, Dot, Permute, Softmax, Rescaling, Add,
//   Concatenate, LayerNormalization express attention with the public API. A causal mask is a
//   non-trainable PositionEmbedding over the [T, T] scores (0 / −1e9) added before the softmax.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as tfjs from '../tfjs-all.js';
import { loadTfAll } from '../tfjs-all.js';
import { loadModel } from '../../src/import/index.js';
import { writeExport } from '../../src/export/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { fileLoader, fileSaver } from '../../src/runtime/tfjs/io.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { prng } from '../../src/train/loop.js';
import { argmaxAgreement, ortTokenLogits, relError, tempDir } from '../helpers.js';

const [B, T, V, D, H] = [4, 16, 49, 32, 2];
const DK = D / H;
const rand = prng(7);
const ids = Int32Array.from({ length: B * T }, () => Math.floor(rand() * V));
const dir = tempDir();

type Tf = tfjs.TfAll;
type Sym = tfjs.SymbolicTensor;
/** tfjs-layers' ESM build: the nlp layers extend its Layer class, so their models are built with it. */
type Layers = Pick<Tf, 'input' | 'model' | 'layers' | 'loadLayersModel'>;
interface Nlp {
  MultiHeadAttention: new (a: Record<string, unknown>) => tfjs.layers.Layer & Record<string, tfjs.layers.Layer>;
  PositionEmbedding: new (a: Record<string, unknown>) => tfjs.layers.Layer;
  EinsumDense: new (a: Record<string, unknown>) => tfjs.layers.Layer;
}

let tf: Tf;
let L: Layers;
let nlp: Nlp;
beforeAll(async () => {
  tf = await loadTfAll('wasm');
  // Deep imports, as a bundler user writes them: vitest compiles these ESM files (vite-node inlines them).
  L = (await import('@tensorflow/tfjs-layers/dist/index.js' as string)) as Layers;
  const mha = (await import('@tensorflow/tfjs-layers/dist/layers/nlp/multihead_attention.js' as string)) as Pick<Nlp, 'MultiHeadAttention'>;
  const pe = (await import('@tensorflow/tfjs-layers/dist/layers/nlp/modeling/position_embedding.js' as string)) as Pick<Nlp, 'PositionEmbedding'>;
  const ed = (await import('@tensorflow/tfjs-layers/dist/layers/nlp/einsum_dense.js' as string)) as Pick<Nlp, 'EinsumDense'>;
  nlp = { ...mha, ...pe, ...ed };
  // The nlp layers call chained tensor ops (x.slice(…)), which the @tensorflow/tfjs union package
  // registers and tfjs-core alone does not.
  await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js' as string);
});

const apply = (layer: tfjs.layers.Layer, x: Sym | Sym[], kwargs?: Record<string, unknown>): Sym => layer.apply(x, kwargs) as Sym;

/** Non-trivial norms and biases (fresh layers start at γ=1, β=0, b=0); the causal masks stay as set. */
function perturb(model: tfjs.LayersModel): void {
  const r = prng(3);
  for (const w of model.weights) {
    if (!w.trainable) continue;
    const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const noise = Float32Array.from({ length: n }, () => (r() - 0.5) * 0.4);
    if (/gamma$/.test(w.originalName)) w.write(tf.tensor(noise.map((e) => 1 + e), w.shape as number[]));
    else if (/(beta|bias)$/.test(w.originalName)) w.write(tf.tensor(noise, w.shape as number[]));
  }
}

/** The additive causal mask as a frozen PositionEmbedding table over [T, T] scores. */
function causalBias(name: string): tfjs.layers.Layer {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  const layer = new nlp.PositionEmbedding({ sequenceLength: T, name, trainable: false });
  return Object.assign(layer, { initMask: () => layer.setWeights([tf.tensor(m, [T, T])]) });
}

/**
 * (a) Causal LM with the public layers + PositionEmbedding: pre-LN blocks, per-head Dense projections,
 * scores by Dot (q·kᵀ), Rescaling by 1/√d, the causal bias, Softmax, Dot with v, Concatenate of heads.
 */
async function causalDotModel(path: string): Promise<tfjs.LayersModel> {
  const Ly = L.layers;
  const inp = L.input({ shape: [T], dtype: 'int32', name: 'ids' });
  const tok = apply(Ly.embedding({ inputDim: V, outputDim: D }), inp);
  let x = apply(Ly.add(), [tok, apply(new nlp.PositionEmbedding({ sequenceLength: T }), tok)]);
  const masks: tfjs.layers.Layer[] = [];
  for (let blk = 0; blk < 2; blk++) {
    const h = apply(Ly.layerNormalization({ epsilon: 1e-5 }), x);
    const heads: Sym[] = [];
    for (let hd = 0; hd < H; hd++) {
      const [q, k, v] = [0, 1, 2].map(() => apply(Ly.dense({ units: DK }), h)) as [Sym, Sym, Sym];
      let s = apply(Ly.dot({ axes: [2, 2] }), [q, k]);
      s = apply(Ly.rescaling({ scale: 1 / Math.sqrt(DK) }), s);
      const mask = causalBias(`causal_mask_${blk}_${hd}`);
      masks.push(mask);
      s = apply(Ly.add(), [s, apply(mask, s)]);
      const p = apply(Ly.softmax({ axis: -1 }), s);
      heads.push(apply(Ly.dot({ axes: [2, 1] }), [p, v]));
    }
    x = apply(Ly.add(), [x, apply(Ly.dense({ units: D }), apply(Ly.concatenate(), heads))]);
    const f = apply(Ly.dense({ units: 4 * D, activation: 'gelu' as never }), apply(Ly.layerNormalization({ epsilon: 1e-5 }), x));
    x = apply(Ly.add(), [x, apply(Ly.dense({ units: D }), f)]);
  }
  const logits = apply(Ly.dense({ units: V }), apply(Ly.layerNormalization({ epsilon: 1e-5 }), x));
  const model = L.model({ inputs: inp, outputs: logits, name: 'causal_dot_lm' });
  for (const m of masks) (m as unknown as { initMask(): void }).initMask();
  perturb(model);
  await model.save(fileSaver(path));
  return model;
}

/** (b) Public API only (tf.layers): single-head, non-causal, post-LN, kᵀ by Permute, softmax as an Activation, ReLU FF. */
async function permuteModel(path: string): Promise<void> {
  const Ly = tf.layers;
  // Explicit names: this tfjs-layers instance's automatic ones would collide with the ESM build's.
  let n = 0;
  const nm = <A extends object>(a: A): A & { name: string } => ({ ...a, name: `p${n++}` });
  const inp = tf.input({ shape: [T], dtype: 'int32', name: 'ids' });
  let x = apply(Ly.embedding(nm({ inputDim: V, outputDim: D })), inp);
  const [q, k, v] = [0, 1, 2].map(() => apply(Ly.dense(nm({ units: D })), x)) as [Sym, Sym, Sym];
  const kt = apply(Ly.permute(nm({ dims: [2, 1] })), k);
  const p = apply(Ly.activation(nm({ activation: 'softmax' })), apply(Ly.dot(nm({ axes: [2, 1] })), [q, kt]));
  x = apply(Ly.layerNormalization(nm({})), apply(Ly.add(nm({})), [x, apply(Ly.dot(nm({ axes: [2, 1] })), [p, v])]));
  const f = apply(Ly.dense(nm({ units: D })), apply(Ly.dense(nm({ units: 2 * D, activation: 'relu' })), x));
  x = apply(Ly.layerNormalization(nm({})), apply(Ly.add(nm({})), [x, f]));
  const model = tf.model({ inputs: inp, outputs: apply(Ly.dense(nm({ units: V })), x), name: 'permute_attention' });
  perturb(model);
  await model.save(fileSaver(path));
  model.dispose(); // frees the variable names for loading the file back
}

/**
 * (c) MultiHeadAttention(use_causal_mask) in the form the Keras → TF.js converter writes: the saved
 * TF.js topology with its inbound node rewritten to Keras's [query, 0, 0, {value: [...], use_causal_mask}]
 * and the MHA weights added under "<layer>/query/kernel" …. The reference is the same TF.js layers run
 * eagerly (LayersModel.predict cannot run MultiHeadAttention in TF.js 4.22).
 */
async function mhaModel(path: string): Promise<Float32Array> {
  const Ly = L.layers;
  const inp = L.input({ shape: [T], dtype: 'int32', name: 'ids' });
  const emb = Ly.embedding({ inputDim: V, outputDim: D, name: 'tok' });
  const pos = new nlp.PositionEmbedding({ sequenceLength: T, name: 'pos' });
  const [ln1, ln2, lnf] = ['ln1', 'ln2', 'lnf'].map((name): tfjs.layers.Layer => Ly.layerNormalization({ epsilon: 1e-5, name })) as [tfjs.layers.Layer, tfjs.layers.Layer, tfjs.layers.Layer];
  const mha = new nlp.MultiHeadAttention({ numHeads: H, keyDim: DK, name: 'mha' });
  const [ff1, head] = [Ly.dense({ units: 4 * D, activation: 'gelu' as never, name: 'ff1' }), Ly.dense({ units: V, name: 'head' })];
  // The FF output projection as an EinsumDense into [T, 2, D/2] (bias over the last letter only), reshaped back.
  const ffE = new nlp.EinsumDense({ equation: 'abc,cde->abde', outputShape: [T, 2, D / 2], biasAxes: 'e', name: 'ff2' });
  const ffR = Ly.reshape({ targetShape: [T, D], name: 'ff2_merge' });
  const [add0, add1, add2] = ['add0', 'add1', 'add2'].map((name): tfjs.layers.Layer => Ly.add({ name })) as [tfjs.layers.Layer, tfjs.layers.Layer, tfjs.layers.Layer];
  const tok = apply(emb, inp);
  const x0 = apply(add0, [tok, apply(pos, tok)]);
  const h = apply(ln1, x0);
  const x1 = apply(add1, [x0, apply(mha, h, { value: h, useCausalMask: true })]);
  const x2 = apply(add2, [x1, apply(ffR, apply(ffE, apply(ff1, apply(ln2, x1))))]);
  const model = L.model({ inputs: inp, outputs: apply(head, apply(lnf, x2)), name: 'mha_lm' });
  perturb(model);

  // TF.js's own forward pass, layer by layer (this also builds the attention's sublayers), on the cpu
  // backend: EinsumDense needs the Einsum kernel, which the wasm backend lacks.
  await loadTf('cpu');
  const run = (layer: tfjs.layers.Layer, t: tfjs.Tensor | tfjs.Tensor[]): tfjs.Tensor => layer.apply(t) as tfjs.Tensor;
  const idsT = tf.tensor(ids, [B, T], 'int32');
  const e = run(emb, idsT);
  const a0 = run(add0, [e, run(pos, e)]);
  const hn = run(ln1, a0);
  const a1 = run(add1, [a0, (mha as unknown as { call(x: tfjs.Tensor, k: object): tfjs.Tensor }).call(hn, { value: hn, useCausalMask: true })]);
  const a2 = run(add2, [a1, run(ffR, run(ffE, run(ff1, run(ln2, a1))))]);
  const want = run(head, run(lnf, a2)).dataSync() as Float32Array;
  await loadTf('wasm');

  let saved: tfjs.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } })));
  const topology = saved!.modelTopology as { config: { layers: { name: string; inbound_nodes: unknown }[] } };
  topology.config.layers.find((l) => l.name === 'mha')!.inbound_nodes = [[['ln1', 0, 0, { value: ['ln1', 0, 0], use_causal_mask: true }]]];
  const named: tfjs.NamedTensorMap = {};
  for (const w of model.weights) named[w.name] = w.read();
  for (const [sub, dense] of [['query', '_queryDense'], ['key', '_keyDense'], ['value', '_valueDense'], ['attention_output', '_outputDense']] as const) {
    const [kernel, bias] = mha[dense]!.getWeights();
    named[`mha/${sub}/kernel`] = kernel!;
    named[`mha/${sub}/bias`] = bias!;
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  await fileSaver(path).save!({ ...saved!, weightSpecs: specs, weightData: data });
  return want;
}

function executorLogits(graph: Graph): Float32Array {
  const ex = new GraphExecutor(tf as never, graph);
  const [y] = ex.run({ [graph.inputs[0]!.name]: tf.tensor(ids, [B, T], 'int32') as never });
  const got = y!.dataSync() as Float32Array;
  y!.dispose();
  ex.dispose();
  return got;
}

const ortLogits = (file: string): Promise<Float32Array> => ortTokenLogits(file, ids, [B, T], 'int32');

async function liteRtLogits(file: string): Promise<Float32Array> {
  const s = await openLiteRt(readFileSync(file), file);
  expect(s.inputs[0]!.dtype).toBe('int32');
  const [o] = await s.run([{ data: ids, shape: [B, T] }]);
  s.dispose();
  return o!.data as Float32Array;
}

const agreement = (a: Float32Array, b: Float32Array): number => argmaxAgreement(a, b, V);

/** Imports, runs, exports to ONNX and TFLite; returns the errors for the report. */
async function checkAll(name: string, path: string, want: Float32Array): Promise<Record<string, number>> {
  const graph = await loadModel(path);
  verifyGraph(graph);
  expect(graph.inputs[0]!.dtype).toBe('int32');
  const executor = relError(executorLogits(graph), want);
  expect(executor).toBeLessThan(1e-4);
  await writeExport(graph, 'onnx', join(dir, `${name}.onnx`), [path]);
  const onnx = relError(await ortLogits(join(dir, `${name}.onnx`)), want);
  expect(onnx).toBeLessThan(1e-4);
  await writeExport(graph, 'tflite', join(dir, `${name}.tflite`), [path], { batchSize: B });
  const lite = await liteRtLogits(join(dir, `${name}.tflite`));
  const agree = agreement(lite, want);
  expect(agree).toBeGreaterThanOrEqual(0.999);
  const errors = { executor, onnx, litert: relError(lite, want), litertArgmaxAgreement: agree };
  console.log(name, JSON.stringify(errors));
  return errors;
}

describe('transformer LayersModels from TF.js', () => {
  it('causal LM: Embedding + PositionEmbedding, 2 pre-LN blocks of 2-head Dot/Softmax attention with a causal bias, GELU FF', async () => {
    const path = join(dir, 'causal', 'model.json');
    await causalDotModel(path);
    const loaded = await L.loadLayersModel(fileLoader(path)); // the file round-trips in TF.js itself
    const want = (loaded.predict(tf.tensor(ids, [B, T], 'int32')) as tfjs.Tensor).dataSync() as Float32Array;
    await checkAll('causal', path, want);
    // Causality: changing the last token changes no earlier position's logits.
    const graph = await loadModel(path);
    const ex = new GraphExecutor(tf as never, graph);
    const alt = ids.slice();
    for (let b = 0; b < B; b++) alt[b * T + T - 1] = (alt[b * T + T - 1]! + 1) % V;
    const [y1] = ex.run({ ids: tf.tensor(alt, [B, T], 'int32') as never });
    const got = y1!.dataSync() as Float32Array;
    ex.dispose();
    for (let b = 0; b < B; b++) expect(relError(got.slice(b * T * V, (b * T + T - 1) * V), want.slice(b * T * V, (b * T + T - 1) * V))).toBeLessThan(1e-5);
  });

  it('public tf.layers only: single-head non-causal attention with Permute, Dot, softmax Activation, post-LN, ReLU FF', async () => {
    const path = join(dir, 'permute', 'model.json');
    await permuteModel(path);
    const loaded = await tf.loadLayersModel(fileLoader(path));
    const want = (loaded.predict(tf.tensor(ids, [B, T], 'int32')) as tfjs.Tensor).dataSync() as Float32Array;
    await checkAll('permute', path, want);
  });

  it('MultiHeadAttention(use_causal_mask) as the Keras converter writes it (value= reference, query/key/value/attention_output weights), EinsumDense + Reshape FF', async () => {
    const path = join(dir, 'mha', 'model.json');
    const want = await mhaModel(path);
    const graph = await loadModel(path);
    expect(graph.nodes.filter((n) => n.op === 'softmax')).toHaveLength(1);
    await checkAll('mha', path, want);
  });

  it('unsupported configurations are named with the layer', async () => {
    const path = join(dir, 'mha', 'model.json');
    const json = JSON.parse(readFileSync(path, 'utf8')) as { modelTopology: { config: { layers: { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown }[] } } };
    const layer = json.modelTopology.config.layers.find((l) => l.name === 'mha')!;
    const { readLayersModel } = await import('../../src/import/tfjs-layers/index.js');
    layer.config.attention_axes = [2];
    expect(() => readLayersModel(path, json)).toThrow(/layer 'mha' \(MultiHeadAttention\): attention over axes \[2\] of rank-3 inputs is not supported/);
    layer.config.attention_axes = null;
    layer.inbound_nodes = [[['ln1', 0, 0, { value: ['ln1', 0, 0], attention_mask: ['ids', 0, 0] }]]];
    expect(() => readLayersModel(path, json)).toThrow(/layer 'mha' \(MultiHeadAttention\): an attention_mask input is not supported/);
    layer.class_name = 'TransformerDecoder';
    expect(() => readLayersModel(path, json)).toThrow(/unsupported op in the LayersModel: TransformerDecoder \(node mha\)/);
  });
});
