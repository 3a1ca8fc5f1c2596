// Figure 1: throughput of edgelm's min-max int8 quantizer (src/quantize/minmax.ts quantizeTensor) on a
// [4096, 4096] float32 tensor, per channel, per tensor and per block, against PyTorch 1.13's observers
// + quantize_per_* on the same tensor (bench/quant-kernel.py), and against a memory copy of the same
// size measured in the same process. Also checks that edgelm's codes and scales equal PyTorch's.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantizeTensor } from '../dist/quantize/minmax.js';
import { OUT, bestMs, emit, fmt, python, row, torch } from './lib.js';

const ROWS = 4096;
const COLS = 4096;
const REPEATS = Number(process.env.BENCH_KERNEL_REPEATS ?? 15);
const n = ROWS * COLS;
const bytes = n * 4;

// Deterministic weights: uniform from an LCG, each row with its own magnitude (as real layers have).
const x = new Float32Array(n);
let s = 12345;
for (let r = 0; r < ROWS; r++) {
  const mag = 0.01 + (r % 97) / 50;
  for (let c = 0; c < COLS; c++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[r * COLS + c] = (s / 4294967296 - 0.5) * mag;
  }
}

const SCHEMES = {
  channel: { bits: 8, signed: true, symmetric: true, narrow: true, granularity: 'channel', axis: 0 },
  tensor: { bits: 8, signed: true, symmetric: true, narrow: true, granularity: 'tensor' },
  block: { bits: 8, signed: true, symmetric: true, narrow: true, granularity: 'block', axis: 1, blockSize: 32 },
};
const sha = (a) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

const dst = new Float32Array(n);
const copyMs = bestMs(() => dst.set(x), REPEATS);
const ours = {};
for (const [name, scheme] of Object.entries(SCHEMES)) {
  const q = quantizeTensor('w', x, [ROWS, COLS], scheme);
  ours[name] = { ms: bestMs(() => quantizeTensor('w', x, [ROWS, COLS], scheme), REPEATS), codes: sha(q.codes), scales: sha(q.params.scale) };
}
// The copy once more, after the quantizer runs, keeping the better of the two (machine noise).
const copyMs2 = Math.min(copyMs, bestMs(() => dst.set(x), REPEATS));

const t = torch();
let peer;
if (t.ok) {
  const file = join(OUT, 'kernel-x.f32');
  writeFileSync(file, new Uint8Array(x.buffer));
  peer = python('quant-kernel.py', [file, ROWS, COLS, Math.max(5, Math.ceil(REPEATS / 2))]);
}

const rows = [];
const label = { channel: 'per channel (axis 0)', tensor: 'per tensor', block: 'per block (32, axis 1)' };
for (const name of Object.keys(SCHEMES)) {
  const o = ours[name];
  const fig = `1 quantize int8 ${label[name]}, [${ROWS}×${COLS}] f32`;
  if (!peer) {
    rows.push(row(fig, fmt.gbs(bytes, o.ms), 'PyTorch: skipped', '—', name === 'channel' ? '≥ 3× PyTorch' : 'report', null, t.note));
    continue;
  }
  const p = peer[name];
  const ratio = p.ms / o.ms;
  const exact = o.codes === p.codes && o.scales === p.scales;
  rows.push(
    row(
      fig,
      fmt.gbs(bytes, o.ms),
      `PyTorch ${fmt.gbs(bytes, p.ms)}`,
      fmt.x(ratio),
      name === 'channel' ? '≥ 3× PyTorch' : 'report',
      name === 'channel' ? ratio >= 3 : null,
      `${fmt.ms(o.ms)} vs ${fmt.ms(p.ms)}; codes+scales ${exact ? 'bit-identical to' : 'DIFFER from'} PyTorch's${name === 'block' ? ' (per channel of the [N/32, 32] view)' : ''}; torch threads ${peer.threads}`,
    ),
  );
  if (!exact) rows.push(row(`1 bit-exactness ${label[name]}`, 'differs', 'PyTorch', '—', 'identical', false));
}
const frac = copyMs2 / ours.channel.ms;
rows.push(row(`1 per-channel throughput / memcpy bandwidth`, fmt.gbs(bytes, ours.channel.ms), `copy ${fmt.gbs(bytes, copyMs2)}`, fmt.pct(frac), '≥ 30%', frac >= 0.3, `Float32Array.prototype.set of ${bytes >> 20} MiB into a warm buffer, ${fmt.ms(copyMs2)}`));
emit(rows);
