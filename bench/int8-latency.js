// Figure 4: inference latency of int8 against float in the runtimes that run edgelm's files.
//  a) LiteRT: a CNN on 64×64×3 input (TF.js LayersModel built here), float TFLite from `edgelm export`
//     vs full-int8 TFLite from `edgelm quantize --mode int8 --calibration` (random calibration .npz).
//  b) onnxruntime: a MatMul-heavy MLP (ONNX built here, 1024→2048→2048→2048→1024, batch 32), float
//     vs `edgelm quantize --mode int8 --calibration` (QDQ).
//  c) onnxruntime: the trained character transformer (fixtures/lm, 0.4M params, 64 tokens), float vs
//     `edgelm quantize` (dynamic int8 weights: DynamicQuantizeLinear → MatMulInteger, fused by
//     onnxruntime into DynamicQuantizeMatMul); an edge artifact must not be slower than its float source.
// All timed through src/runtime (openRuntime, session.run): median of RUNS runs after warm-up,
// float and int8 interleaved in one process.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpz } from '../dist/data/npz.js';
import { loadTf } from '../dist/runtime/tfjs/backend.js';
import { fileSaver } from '../dist/runtime/tfjs/io.js';
import { OUT, ROOT, cli, emit, fmt, interleavedLatency, median, row } from './lib.js';
import { weights, writeMlp } from './onnx-models.js';

const RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 60);

function uniform(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return out;
}

async function buildCnn(dir) {
  if (existsSync(join(dir, 'model.json'))) return join(dir, 'model.json');
  const tf = await loadTf('cpu');
  let seed = 1;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const conv = (filters, extra = {}) => tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), ...extra });
  const model = tf.sequential({
    name: 'bench_cnn64',
    layers: [
      conv(32, { inputShape: [64, 64, 3], name: 'conv1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      conv(64, { name: 'conv2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      conv(128, { name: 'conv3' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool3' }),
      conv(128, { name: 'conv4' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 10, kernelInitializer: init(), name: 'logits' }),
    ],
  });
  mkdirSync(dir, { recursive: true });
  await model.save(fileSaver(join(dir, 'model.json')));
  return join(dir, 'model.json');
}

const latency = (files, shape, x = uniform(shape.reduce((a, b) => a * b, 1), 7)) => interleavedLatency(files, shape, x, RUNS);

const rows = [];

// a) LiteRT CNN
const cnn = await buildCnn(join(OUT, 'cnn64'));
const calibCnn = join(OUT, 'calib-cnn64.npz');
writeFileSync(calibCnn, encodeNpz({ x: { dtype: 'float32', shape: [64, 64, 64, 3], data: uniform(64 * 64 * 64 * 3, 3) } }));
const cnnF32 = join(OUT, 'cnn64-f32.tflite');
const cnnI8 = join(OUT, 'cnn64-int8.tflite');
cli(['export', cnn, '-o', cnnF32]);
cli(['quantize', cnn, '-o', cnnI8, '--mode', 'int8', '--calibration', calibCnn]);
const [cf, ci] = await latency([cnnF32, cnnI8], [1, 64, 64, 3]);
rows.push(row('4a LiteRT latency, CNN 64×64×3 (4 conv), batch 1', `int8 ${fmt.ms(ci)}`, `float ${fmt.ms(cf)}`, fmt.x(cf / ci), '≥ 1.5× faster', cf / ci >= 1.5, `median of ${RUNS}; full int8 (--mode int8 --calibration), float io`));

// b) onnxruntime MatMul MLP
const mm = writeMlp(join(OUT, 'matmul-mlp.onnx'), [1024, 2048, 2048, 2048, 1024], { matmul: true });
const calibMm = join(OUT, 'calib-matmul.npz');
writeFileSync(calibMm, encodeNpz({ x: { dtype: 'float32', shape: [128, 1024], data: weights(128 * 1024, 1, 1, 5).map((v) => v * 2) } }));
const mmI8 = join(OUT, 'matmul-mlp-int8.onnx');
cli(['quantize', mm, '-o', mmI8, '--mode', 'int8', '--calibration', calibMm]);
const [mf, mi] = await latency([mm, mmI8], [32, 1024]);
rows.push(row('4b onnxruntime latency, MatMul MLP 1024→2048³→1024, batch 32', `int8 ${fmt.ms(mi)}`, `float ${fmt.ms(mf)}`, fmt.x(mf / mi), '≥ 1.3× faster', mf / mi >= 1.3, `median of ${RUNS}; QDQ int8 (--mode int8 --calibration)`));

// c) onnxruntime char LM, dynamic int8
const lm = join(ROOT, 'fixtures', 'lm', 'char-transformer.onnx');
const lmI8 = join(OUT, 'char-transformer-dynamic.onnx');
cli(['quantize', lm, '-o', lmI8]);
const ids = Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 49);
const [lf, li] = await latency([lm, lmI8], [1, 64], ids);
rows.push(row('4c onnxruntime latency, char transformer LM (0.4M params), 64 tokens, batch 1', `int8 ${fmt.ms(li)}`, `float ${fmt.ms(lf)}`, fmt.x(lf / li), '≥ 1.0× (not slower)', lf / li >= 1.0, `median of ${RUNS}; dynamic int8 weights (default edgelm quantize)`));
emit(rows);
