// Quantized ONNX of the PyTorch-exported fixtures (dynamic int8 and 4-bit blocks) in onnxruntime,
// and the KV cache: one decode step with the cache gives the logits of the full forward, for the
// source and for edgelm's float and quantized exports.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { cli, fixture, tempDir } from '../helpers.js';
import { MANIFEST, cosine, makeFeeds, maxAbsDiff, runOrt, type Feed } from './inputs.js';

const dir = tempDir();
const sizes = { batch: 2, seq: 5, past: 3 };

describe.each(Object.keys(MANIFEST))('%s quantized', (name) => {
  const m = MANIFEST[name]!;
  const file = fixture('exports', name);
  it.each([
    ['dynamic int8', [], 0.995],
    ['4-bit blocks of 32', ['--bits', '4', '--granularity', 'block'], 0.97],
  ] as const)('%s: runs in onnxruntime with the source’s inputs and outputs, cosine to the source ≥ %s', async (_, flags, min) => {
    const out = join(dir, `${name}-${flags.length ? 'q4' : 'q8'}.onnx`);
    const r = cli(['quantize', file, '-o', out, ...flags]);
    expect(r.code, r.stderr).toBe(0);
    const feeds = makeFeeds(m, sizes);
    const [got, want] = [await runOrt(out, feeds), await runOrt(file, feeds)];
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expect(cosine(got[k]!, want[k]!), k).toBeGreaterThanOrEqual(min);
  });
});

// Image models, full integer: calibrated on 16 seeded images, checked on another, in onnxruntime (QDQ) and
// LiteRT (int8 TFLite, float I/O) against onnxruntime on the source.
const CNNS = Object.keys(MANIFEST).filter((k) => MANIFEST[k]!.kind === 'cnn');
describe.each(CNNS)('%s int8', (name) => {
  const m = MANIFEST[name]!;
  const file = fixture('exports', name);
  it.each(['onnx', 'tflite'])('calibrated int8 %s agrees with onnxruntime on the source (cosine ≥ 0.995)', async (format) => {
    const [calibration] = makeFeeds(m, { batch: 16, seq: 1, past: 0 }, 7);
    const npy = join(dir, `${name}-calibration.npy`);
    writeFileSync(npy, encodeNpy({ dtype: 'float32', shape: calibration!.shape, data: calibration!.data as Float32Array }));
    const out = join(dir, `${name}-int8.${format}`);
    const r = cli(['quantize', file, '-o', out, '--mode', 'int8', '--calibration', npy]);
    expect(r.code, r.stderr).toBe(0);
    const feeds = makeFeeds(m, { batch: 1, seq: 1, past: 0 }, 9);
    const want = Object.values(await runOrt(file, feeds))[0]!;
    let got: Float32Array;
    if (format === 'onnx') got = Object.values(await runOrt(out, feeds))[0]!;
    else {
      const rt = await openLiteRt(readFileSync(out), out);
      got = (await rt.run([{ data: feeds[0]!.data as Float32Array, shape: feeds[0]!.shape }]))[0]!.data as Float32Array;
      rt.dispose();
    }
    expect(cosine(got, want)).toBeGreaterThanOrEqual(0.995);
  });
});

/** Feeds for one decode step: the last token, the cache the prefix produced, masks and positions extended. */
function stepFeeds(m: (typeof MANIFEST)[string], full: Feed[], prefix: Record<string, Float32Array>, b: number, s: number): Feed[] {
  return m.inputs.map((i) => {
    const f = full.find((x) => x.name === i.name)!;
    if (i.name.startsWith('past_key_values.')) {
      const present = i.name.replace('past_key_values.', 'present.');
      return { ...f, shape: [b, f.shape[1]!, s - 1, f.shape[3]!], data: prefix[present]! };
    }
    const cols = f.shape[1]!;
    if (i.name === 'attention_mask') return f;
    const last = BigInt64Array.from({ length: b }, (_, r) => (f.data as BigInt64Array)[r * cols + cols - 1]!);
    return { ...f, shape: [b, 1], data: last };
  });
}

const DECODERS = Object.keys(MANIFEST).filter((k) => MANIFEST[k]!.kv_cache);
describe.each(DECODERS)('%s: decoding with the KV cache', (name) => {
  const m = MANIFEST[name]!;
  const b = 2;
  const s = 6;
  /** Full forward over s tokens (empty past) and prefix s − 1 then one cached step: last-position logits. */
  async function check(file: string): Promise<number> {
    const full = makeFeeds(m, { batch: b, seq: s, past: 0 }, 9);
    const fullOut = await runOrt(file, full);
    const prefixFeeds = makeFeeds(m, { batch: b, seq: s - 1, past: 0 }, 9).map((f) => {
      const same = full.find((x) => x.name === f.name)!;
      if (f.name.startsWith('past_')) return f;
      // The first s − 1 columns of the full inputs.
      const cols = same.shape[1]!;
      const data = BigInt64Array.from({ length: b * (s - 1) }, (_, k) => (same.data as BigInt64Array)[Math.floor(k / (s - 1)) * cols + (k % (s - 1))]!);
      return { ...f, data };
    });
    const prefix = await runOrt(file, prefixFeeds);
    const step = await runOrt(file, stepFeeds(m, full, prefix, b, s));
    const V = m.vocab!;
    const lastFull = Float32Array.from({ length: b * V }, (_, k) => fullOut.logits![(Math.floor(k / V) * s + s - 1) * V + (k % V)]!);
    return maxAbsDiff(step.logits!, lastFull);
  }
  it('source, float export and weight-only 8-bit / 4-bit exports: cached step = full forward (≤ 1e-4)', async () => {
    const src = fixture('exports', name);
    expect(await check(src), 'source').toBeLessThanOrEqual(1e-4);
    const float = join(dir, `kv-${name}`);
    expect(cli(['export', src, '-o', float]).code).toBe(0);
    expect(await check(float), 'float export').toBeLessThanOrEqual(1e-4);
    // Weight-only int8 and 4-bit (MatMulNBits): the activations stay float, so the step is exact. Dynamic
    // int8 (DynamicQuantizeLinear) takes one activation scale per call, which differs between a
    // one-token step and the full sequence: close, not equal, as with onnxruntime's quantize_dynamic.
    for (const flags of [['--bits', '8', '--granularity', 'block'], ['--bits', '4', '--granularity', 'block']]) {
      const q = join(dir, `kv-q${flags[1]}-${name}`);
      expect(cli(['quantize', src, '-o', q, ...flags]).code).toBe(0);
      expect(await check(q), flags.join(' ') || 'dynamic int8').toBeLessThanOrEqual(1e-4);
    }
  });
});
