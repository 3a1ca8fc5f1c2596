// Figure 11: quantized against float latency of edgelm's own files, per runtime and mode (issue 16).
//  a) MobileNetV2 (torchvision, width 1.0, 224×224, random weights; exported by bench/mobilenet224.py into
//     /tmp at bench time, 14 MB) in LiteRT (float, dynamic, float16, int8) and onnxruntime (float source,
//     dynamic, int8 QDQ).
//  b) the same for the committed fixture fixtures/exports/mobilenet-17.onnx (width 0.35, 64×64).
//  c) the fixture character LM (fixtures/lm/char-transformer.onnx, 64 tokens) in onnxruntime (float,
//     dynamic int8, 4-bit blocks) and LiteRT (float export, dynamic int8), and LiteRT's float against
//     onnxruntime's on the same model: in wall time, and in CPU time on one thread each (also for the
//     TF.js-trained LM, fixtures/lm/tfjs-teacher.onnx).
// Files from the CLI (`export`, `quantize --mode …`); timed through src/runtime (openRuntime): batch 1,
// 5 warm-up runs, then the files of one group interleaved, median of RUNS.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpz } from '../dist/data/npz.js';
import { OUT, ROOT, cli, emit, fmt, interleavedLatency, median, python, row, torch } from './lib.js';

const RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 30);

function uniform(n, seed, lo = -2, hi = 2) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

const latency = interleavedLatency;

const rows = [];
const versus = (fig, label, mode, t, f, target, min, note) =>
  rows.push(row(`${fig} ${label}`, `${mode} ${fmt.ms(t)}`, `float ${fmt.ms(f)}`, fmt.x(f / t), target, f / t >= min, note));

/** Float, dynamic, float16 and int8 TFLite and dynamic and int8 ONNX of one CNN, timed per runtime. */
async function cnn(fig, name, onnx, size, runs) {
  const calib = join(OUT, `calib-${name}.npz`);
  writeFileSync(calib, encodeNpz({ x: { dtype: 'float32', shape: [8, 3, size, size], data: uniform(8 * 3 * size * size, 3) } }));
  const f = (m, ext) => join(OUT, `${name}-${m}.${ext}`);
  cli(['export', onnx, '-o', f('float', 'tflite')]);
  for (const m of ['dynamic', 'float16']) cli(['quantize', onnx, '-o', f(m, 'tflite'), '--mode', m]);
  cli(['quantize', onnx, '-o', f('int8', 'tflite'), '--mode', 'int8', '--calibration', calib]);
  cli(['quantize', onnx, '-o', f('dynamic', 'onnx'), '--mode', 'dynamic']);
  cli(['quantize', onnx, '-o', f('int8', 'onnx'), '--mode', 'int8', '--calibration', calib]);
  const shape = [1, 3, size, size];
  const x = uniform(3 * size * size, 7);
  const [lf, ld, lh, li] = await latency(['float', 'dynamic', 'float16', 'int8'].map((m) => f(m, 'tflite')), shape, x, runs);
  const note = `median of ${runs}, batch 1`;
  versus(fig, `LiteRT ${name}`, 'dynamic', ld, lf, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; int8 weights (conv weights behind DEQUANTIZE, which XNNPACK folds at load)`);
  versus(fig, `LiteRT ${name}`, 'float16', lh, lf, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; LiteRT's XNNPACK does not fold DEQUANTIZE(float16): the convolutions leave XNNPACK`);
  versus(fig, `LiteRT ${name}`, 'int8', li, lf, '≥ 1.5× faster', 1.5, `${note}; full int8, float io`);
  const [of, od, oi] = await latency([onnx, f('dynamic', 'onnx'), f('int8', 'onnx')], shape, x, runs);
  versus(fig, `onnxruntime ${name}`, 'dynamic', od, of, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; conv weights as Cast(int8)·scale, folded by onnxruntime at load`);
  versus(fig, `onnxruntime ${name}`, 'int8', oi, of, '≥ 1.5× faster', 1.5, `${note}; QDQ, uint8 activations: onnxruntime fuses every Conv into QLinearConv`);
}

// a) full-size MobileNetV2, generated at bench time (needs torch)
if (torch().ok) {
  const mnv2 = join('/tmp', 'edgelm-bench-mobilenet_v2-224.onnx');
  if (!existsSync(mnv2)) python('mobilenet224.py', [mnv2]);
  await cnn('11a', 'MobileNetV2 224×224', mnv2, 224, Math.min(RUNS, 20));
} else rows.push(row('11a MobileNetV2 224×224', 'skipped', '—', '—', '—', null, torch().note));

// b) the committed fixture
await cnn('11b', 'MobileNetV2-0.35 64×64', join(ROOT, 'fixtures', 'exports', 'mobilenet-17.onnx'), 64, RUNS * 2);

// c) the fixture LM
const lm = join(ROOT, 'fixtures', 'lm', 'char-transformer.onnx');
const lmF = (m, ext) => join(OUT, `char-lm-${m}.${ext}`);
cli(['quantize', lm, '-o', lmF('dynamic', 'onnx')]);
cli(['quantize', lm, '-o', lmF('4bit', 'onnx'), '--bits', '4', '--granularity', 'block']);
cli(['export', lm, '-o', lmF('float', 'tflite')]);
cli(['quantize', lm, '-o', lmF('dynamic', 'tflite')]);
const ids = Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 49);
const [of, od, o4, tf, td] = await latency([lm, lmF('dynamic', 'onnx'), lmF('4bit', 'onnx'), lmF('float', 'tflite'), lmF('dynamic', 'tflite')], [1, 64], ids, RUNS * 2);
const note = `median of ${RUNS * 2}, 64 tokens, batch 1`;
versus('11c', 'onnxruntime char LM', 'int8', od, of, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; dynamic int8 (DynamicQuantizeMatMul)`);
versus('11c', 'onnxruntime char LM', '4-bit', o4, of, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; MatMulNBits, blocks of 32`);
versus('11c', 'LiteRT char LM', 'int8', td, tf, '≥ 0.97× (not slower, 3% noise)', 0.97, `${note}; hybrid FULLY_CONNECTED (int8 weights, float activations)`);
rows.push(row('11c LiteRT float vs onnxruntime float, char LM', `LiteRT ${fmt.ms(tf)}`, `onnxruntime ${fmt.ms(of)}`, fmt.x(of / tf), '≥ 0.67× (within 1.5×)', of / tf >= 1 / 1.5, `${note}; wall time, onnxruntime on its default threads`));

/**
 * onnxruntime-node on one intra-op thread, the peer of LiteRT's single-threaded wasm build; undefined
 * when onnxruntime-node is not installed (the web build is wasm too: no native peer).
 */
async function ortOneThread(file) {
  const ort = await import('onnxruntime-node').catch(() => undefined);
  if (!ort) return undefined;
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  const { name, type } = s.inputMetadata[0];
  const tensor = (x, shape) => (type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), shape) : new ort.Tensor(type, x, shape));
  return { run: (x, shape) => s.run({ [name]: tensor(x, shape) }), dispose: () => s.release() };
}

// The same comparison in CPU time, one thread each, for the PyTorch and the TF.js-trained LM: on a shared
// machine a call's wall time includes its waits for a core, which grow faster than the call (figure 11).
const teacher = join(ROOT, 'fixtures', 'lm', 'tfjs-teacher.onnx');
cli(['export', teacher, '-o', lmF('teacher-float', 'tflite')]);
for (const [label, onnx, tflite] of [['char LM', lm, lmF('float', 'tflite')], ['TF.js LM', teacher, lmF('teacher-float', 'tflite')]]) {
  const peer = await ortOneThread(onnx);
  if (!peer) {
    rows.push(row(`11c LiteRT float vs onnxruntime float, ${label}, CPU time`, 'skipped', '—', '—', '—', null, 'onnxruntime-node is not installed'));
    continue;
  }
  const [o1, t1] = await latency([peer, tflite], [1, 64], ids, RUNS * 2, { clock: 'cpu' });
  rows.push(row(`11c LiteRT float vs onnxruntime float, ${label}, CPU time`, `LiteRT ${fmt.ms(t1)}`, `onnxruntime ${fmt.ms(o1)}`, fmt.x(o1 / t1), '≥ 0.67× (within 1.5×)', o1 / t1 >= 1 / 1.5, `${note}; CPU time per call, one thread each (onnxruntime-node intra-op threads 1, LiteRT wasm)`));
}
emit(rows);
