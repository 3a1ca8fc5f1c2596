// Figure 9: a GPT-2-small-shaped decoder (~124 M parameters, vocab 50257, width 768, 12 layers,
// dynamic batch and sequence axes; bench/gpt2-124m.py exports it with torch) quantized by
// `edgelm quantize` (dynamic int8, and 4-bit blocks of 32) against an onnx + PyTorch script doing
// per-channel int8 of every MatMul weight (bench/e2e-onnx.py). Wall time and peak RSS of each whole
// process (medians of interleaved rounds), and the quantized files' next-token agreement with the float model in onnxruntime.
import { existsSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { CLI, OUT, PYTHON, ROOT, emit, fmt, measure, median, python, row, torch } from './lib.js';

const t = torch();
const src = join(OUT, 'gpt2-124m.onnx');
const rows = [];
const fig = '9 GPT-2-small-shaped (124 M, dynamic axes)';
if (!t.ok) {
  rows.push(row(`${fig}: quantize`, 'skipped', '—', '—', '≤ 0.5× Python', null, t.note));
  emit(rows);
  process.exit(0);
}
if (!existsSync(src)) python('gpt2-124m.py', [src]);

const q8 = join(OUT, 'gpt2-124m-q8.onnx');
const q4 = join(OUT, 'gpt2-124m-q4.onnx');
// Interleaved rounds, edgelm first then Python first, so that load on the shared machine falls on both;
// each side's median over the rounds, with every run and the load average in the note.
const runs = { ours8: [], ours4: [], peer: [] };
const run = {
  ours8: () => measure(process.execPath, [CLI, 'quantize', src, '-o', q8, '--json']),
  ours4: () => measure(process.execPath, [CLI, 'quantize', src, '-o', q4, '--bits', '4', '--granularity', 'block', '--json']),
  peer: () => measure(PYTHON, [join(ROOT, 'bench', 'e2e-onnx.py'), src, join(OUT, 'gpt2-124m-py.onnx')]),
};
const ROUNDS = Number(process.env.EDGELM_BENCH_ROUNDS ?? 2);
const load = [loadavg()[0]];
for (let r = 0; r < ROUNDS; r++) {
  for (const k of r % 2 ? ['peer', 'ours8', 'ours4'] : ['ours8', 'ours4', 'peer']) runs[k].push(await run[k]());
  load.push(loadavg()[0]);
}
const mid = (xs) => ({ seconds: median(xs.map((x) => x.seconds)), peakRssMiB: median(xs.map((x) => x.peakRssMiB)), how: xs[0].how });
const [ours8, ours4, peer] = [mid(runs.ours8), mid(runs.ours4), mid(runs.peer)];
const each = (k) => runs[k].map((x) => x.seconds.toFixed(1)).join(', ');
const how = `rounds ${ROUNDS} (edgelm first, then Python first): int8 ${each('ours8')} s, 4-bit ${each('ours4')} s, Python ${each('peer')} s; load average ${load.map((l) => l.toFixed(1)).join(' → ')}`;

// Next-token agreement over 4 × 128 seeded tokens, each file in onnxruntime.
const ort = await import('onnxruntime-node');
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const [B, T, V] = [4, 128, 50257];
const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * V)));
async function argmaxes(file) {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const out = await s.run({ input_ids: new ort.Tensor('int64', ids, [B, T]), attention_mask: new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]) });
  const l = out.logits.data;
  return Array.from({ length: B * T }, (_, r) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (l[r * V + v] > l[r * V + best]) best = v;
    return best;
  });
}
const ref = await argmaxes(src);
const agree = async (file) => (await argmaxes(file)).reduce((s, a, i) => s + (a === ref[i] ? 1 : 0), 0) / ref.length;
const [a8, a4] = [await agree(q8), await agree(q4)];
const mib = (f) => (statSync(f).size / 2 ** 20).toFixed(0);

for (const [label, o, agreement, file] of [['dynamic int8', ours8, a8, q8], ['4-bit blocks', ours4, a4, q4]]) {
  const wall = o.seconds / peer.seconds;
  const rss = o.peakRssMiB / peer.peakRssMiB;
  rows.push(row(`${fig}: ${label} wall`, fmt.ms(o.seconds * 1e3), `Python int8 ${fmt.ms(peer.seconds * 1e3)}`, fmt.x(wall), '≤ 0.5× Python', wall <= 0.5, `${mib(file)} MiB from ${mib(src)} MiB; next-token agreement with float ${(100 * agreement).toFixed(1)}% (${B}×${T} tokens, onnxruntime); medians of ${how}`));
  rows.push(row(`${fig}: ${label} peak RSS`, `${o.peakRssMiB.toFixed(0)} MiB`, `Python ${peer.peakRssMiB.toFixed(0)} MiB`, fmt.x(rss), '≤ 1× Python', rss <= 1, o.how));
}
emit(rows);
