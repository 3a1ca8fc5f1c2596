// Figure 3: end-to-end ONNX weight quantization of a ~256 MB MLP (8 Gemm layers, 2048↔4096, float32):
// `edgelm quantize big.onnx -o out.onnx` (dynamic mode, per-channel int8) against a Python script
// doing the same with onnx + PyTorch's per-channel observer (bench/e2e-onnx.py). Wall time of each
// whole process and its peak RSS; RUNS runs each, alternating, the fastest kept.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, OUT, PYTHON, ROOT, emit, fmt, measure, row, torch } from './lib.js';
import { writeMlp } from './onnx-models.js';

const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 2);
const big = writeMlp(join(OUT, 'big.onnx'), [2048, 4096, 2048, 4096, 2048, 4096, 2048, 4096, 2048]);
const mib = statSync(big).size / 2 ** 20;
const t = torch();

const ours = [];
const peer = [];
for (let i = 0; i < RUNS; i++) {
  ours.push(await measure(process.execPath, [CLI, 'quantize', big, '-o', join(OUT, 'big-int8.onnx'), '--json']));
  if (t.ok) peer.push(await measure(PYTHON, [join(ROOT, 'bench', 'e2e-onnx.py'), big, join(OUT, 'big-int8-py.onnx')]));
}
const pick = (rs) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const o = pick(ours);
const outMib = statSync(join(OUT, 'big-int8.onnx')).size / 2 ** 20;
const fig = `3 e2e ONNX quantize, ${mib.toFixed(0)} MiB MLP (8 Gemm)`;
const rows = [];
if (!t.ok) {
  rows.push(row(`${fig}: wall`, fmt.ms(o.seconds * 1e3), 'Python: skipped', '—', '≤ 0.5× Python', null, t.note));
  rows.push(row(`${fig}: peak RSS`, `${o.peakRssMiB.toFixed(0)} MiB`, 'Python: skipped', '—', '≤ Python', null));
} else {
  const p = pick(peer);
  const inner = JSON.parse(p.stdout.trim().split('\n').pop());
  const wall = o.seconds / p.seconds;
  const rss = o.peakRssMiB / p.peakRssMiB;
  rows.push(row(`${fig}: wall`, fmt.ms(o.seconds * 1e3), `Python ${fmt.ms(p.seconds * 1e3)}`, fmt.x(wall), '≤ 0.5× Python', wall <= 0.5, `best of ${RUNS}; Python: ${inner.import_s.toFixed(2)} s importing torch/onnx, ${inner.work_s.toFixed(2)} s load+quantize+save; output ${outMib.toFixed(0)} MiB`));
  rows.push(row(`${fig}: peak RSS`, `${o.peakRssMiB.toFixed(0)} MiB`, `Python ${p.peakRssMiB.toFixed(0)} MiB`, fmt.x(rss), '≤ 1× Python', rss <= 1, o.how));
}
emit(rows);
