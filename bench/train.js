// Figure 5: training throughput (samples/s) of edgelm's training loop, on the distillation of the
// bundled MNIST teacher (`edgelm distill --student-width 0.1`, batch 64, TF.js wasm backend), against
// PyTorch CPU training the same student with the same loss, optimizer and batch size (bench/train.py).
// Per-epoch seconds from each side's own timer; the fastest epoch after the first is kept.
import { join } from 'node:path';
import { OUT, ROOT, cli, emit, fmt, python, row, torch } from './lib.js';

const EPOCHS = Number(process.env.BENCH_TRAIN_EPOCHS ?? 4);
const data = join(ROOT, 'fixtures', 'data', 'mnist-train.npz');
const res = JSON.parse(cli(['distill', '--teacher', join(ROOT, 'fixtures', 'models', 'mlp'), '--student-width', '0.1', '--data', data, '-o', join(OUT, 'student.onnx'), '--epochs', String(EPOCHS), '--batch-size', '64', '--json']));
const n = 6000;
const steady = (secs) => Math.min(...(secs.length > 1 ? secs.slice(1) : secs));
const ours = n / steady(res.epochs.map((e) => e.seconds));
const t = torch();
const fig = '5 training throughput, KD of MNIST MLP → 784-30-10-10, batch 64';
if (!t.ok) emit([row(fig, `${ours.toFixed(0)} samples/s`, 'PyTorch: skipped', '—', '≥ 0.5× PyTorch', null, t.note)]);
else {
  const p = python('train.py', [data, EPOCHS]);
  const theirs = p.samples / steady(p.seconds);
  const r = ours / theirs;
  emit([row(fig, `${ours.toFixed(0)} samples/s`, `PyTorch ${theirs.toFixed(0)} samples/s`, fmt.x(r), '≥ 0.5× PyTorch', r >= 0.5, `${EPOCHS} epochs of ${n}, fastest after the first; edgelm on TF.js wasm; torch threads ${p.threads}`)]);
}
