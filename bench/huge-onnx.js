// Figure 6: a model past protobuf's 2 GiB limit (a 2.5 GiB ONNX MLP, weights in external data)
// quantized to int8 weights in bounded memory: `edgelm quantize` streams one tensor at a time, so
// its peak RSS must stay under 1 GiB; the output (external data too) must load and run in
// onnxruntime. The model is generated here, deterministically, one layer at a time.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, OUT, emit, fmt, measure, row } from './lib.js';
import { writeExternalMlp } from './onnx-models.js';

const WIDTH = 8192;
const LAYERS = 10; // 10 × 8192² float32 = 2.5 GiB
const model = join(OUT, 'huge.onnx');
const data = join(OUT, 'huge.onnx.data');

writeExternalMlp(model, WIDTH, LAYERS, 7000);

const out = join(OUT, 'huge-int8.onnx');
const r = await measure(process.execPath, [CLI, 'quantize', model, '-o', out, '--json']);
const gib = (statSync(model).size + statSync(data).size) / 2 ** 30;
const outMib = (statSync(out).size + statSync(`${out}.data`).size) / 2 ** 20;

// The output must load and run in onnxruntime.
const ort = await import('onnxruntime-node');
const s = await ort.InferenceSession.create(out, { logSeverityLevel: 3 });
const y = await s.run({ x: new ort.Tensor('float32', new Float32Array(WIDTH).fill(0.5), [1, WIDTH]) });
const finite = [...y[s.outputNames[0]].data].every(Number.isFinite);

emit([
  row(`6 ${gib.toFixed(2)} GiB ONNX (external data) → int8: peak RSS`, `${r.peakRssMiB.toFixed(0)} MiB`, 'limit 1024 MiB', (r.peakRssMiB / 1024).toFixed(2), '< 1 GiB', r.peakRssMiB < 1024, `${fmt.ms(r.seconds * 1e3)} wall; output ${outMib.toFixed(0)} MiB; ${r.how}`),
  row('6 quantized 2.5 GiB model loads and runs in onnxruntime', finite ? 'yes' : 'no (non-finite output)', '—', '—', 'loads, finite output', finite, ''),
]);
