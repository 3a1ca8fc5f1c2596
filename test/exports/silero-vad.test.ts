// Silero VAD v4 as an npm package ships it (fixtures/npm/build.sh): an If on the sample-rate input
// picks the 16 kHz or 8 kHz network, and the LSTM's sequence length follows the audio length. As
// exported, edgelm's IR cannot read it (exit 2 naming the If and the fix); with the sample rate and
// the chunk size fixed (--input-value sr=16000 --shape input=1x512) every branch folds at import, and
// the float and dynamic-int8 files agree with onnxruntime on the source fed the same sample rate.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLiteRt } from '../../src/runtime/litert.js';
import { prng } from '../../src/train/loop.js';
import { cli, fixture, tempDir } from '../helpers.js';
import { cosine, maxAbsDiff, runOrt, type Feed } from './inputs.js';

const SOURCE = fixture('npm', 'silero_vad.onnx');
const FIX = ['--input-value', 'sr=16000', '--shape', 'input=1x512'];
const CHUNK = 512; // samples per call at 16 kHz, as Silero VAD v4 is run
const dir = tempDir();

/** Seeded audio: a few tones with a noise floor, at 16 kHz, amplitude ≤ 0.5 (speech-like levels). */
function audio(n: number, seed: number): Float32Array {
  const rand = prng(seed);
  const tones = [0, 1, 2].map(() => ({ f: 100 + 900 * rand(), a: 0.15 * rand(), p: 6.28 * rand() }));
  return Float32Array.from({ length: n }, (_, i) => tones.reduce((s, t) => s + t.a * Math.sin((6.283185307 * t.f * i) / 16000 + t.p), 0) + 0.03 * (rand() * 2 - 1));
}

const state = (seed: number): Float32Array => {
  const rand = prng(seed);
  return Float32Array.from({ length: 2 * 64 }, () => 0.3 * (rand() * 2 - 1));
};

const x = audio(CHUNK, 3);
const [h, c] = [state(4), state(5)];
const feeds: Feed[] = [
  { name: 'input', dtype: 'float32', shape: [1, CHUNK], data: x },
  { name: 'h', dtype: 'float32', shape: [2, 1, 64], data: h },
  { name: 'c', dtype: 'float32', shape: [2, 1, 64], data: c },
];
const OUTPUTS = ['output', 'hn', 'cn'];

/** The source in onnxruntime at 16 kHz: the reference for every file. */
async function reference(): Promise<Float32Array[]> {
  const sr: Feed = { name: 'sr', dtype: 'int64', shape: [], data: BigInt64Array.from([16000n]) };
  const out = await runOrt(SOURCE, [...feeds, sr]);
  return OUTPUTS.map((k) => out[k]!);
}

async function run(file: string): Promise<Float32Array[]> {
  if (file.endsWith('.onnx')) {
    const out = await runOrt(file, feeds);
    expect(Object.keys(out).sort()).toEqual([...OUTPUTS].sort());
    return OUTPUTS.map((k) => out[k]!);
  }
  const rt = await openLiteRt(readFileSync(file), file);
  try {
    expect(rt.inputs.map((i) => [i.name, i.shape])).toEqual(feeds.map((f) => [f.name, f.shape]));
    expect(rt.outputs.map((o) => o.name)).toEqual(OUTPUTS);
    return (await rt.run(feeds.map((f) => ({ data: f.data as Float32Array, shape: f.shape })))).map((o) => o.data as Float32Array);
  } finally {
    rt.dispose();
  }
}

describe('Silero VAD (If on the sample rate, LSTM over the audio length)', () => {
  it('as exported: export to TFLite refuses with exit 2, naming the If and the flags that fix its inputs', () => {
    const r = cli(['export', SOURCE, '-o', join(dir, 'refused.tflite')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/node If_25 \(If\): the condition depends on run-time data.*--input-value NAME=VALUE/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the sample rate alone: the LSTM refuses its run-time sequence length, naming --shape', () => {
    const r = cli(['export', SOURCE, '-o', join(dir, 'refused2.tflite'), '--input-value', 'sr=16000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\(LSTM\): the sequence length is a run-time dim.*--shape/);
  });

  it.each([
    ['float', 'export', [], 'onnx', 0.99999, 1e-5],
    ['float', 'export', [], 'tflite', 0.99999, 1e-5],
    ['dynamic int8', 'quantize', ['--mode', 'dynamic'], 'onnx', 0.999, 5e-3],
    ['dynamic int8', 'quantize', ['--mode', 'dynamic'], 'tflite', 0.999, 5e-3],
  ] as const)('%s %s → .%s: every output agrees with onnxruntime on the source (cosine ≥ %s, speech probability within %s)', async (_, cmd, flags, format, minCos, probTol) => {
    const out = join(dir, `vad-${cmd}-${flags.length ? 'q' : 'f'}.${format}`);
    const r = cli([cmd, SOURCE, '-o', out, ...FIX, ...flags]);
    expect(r.code, r.stderr).toBe(0);
    const [want, got] = [await reference(), await run(out)];
    OUTPUTS.forEach((k, i) => expect(cosine(got[i]!, want[i]!), k).toBeGreaterThanOrEqual(minCos));
    expect(maxAbsDiff(got[0]!, want[0]!)).toBeLessThanOrEqual(probTol);
  });

  it.each([
    ['dynamic int8', []],
    ['4-bit blocks (convolutions get int8)', ['--bits', '4', '--granularity', 'block']],
  ] as const)('as exported, %s ONNX through the rewriter quantizes the convolutions inside both If branches; both sample rates agree with the source', async (_, flags) => {
    const out = join(dir, `vad-inplace-${flags.length}.onnx`);
    const r = cli(['quantize', SOURCE, '-o', out, '--mode', 'dynamic', ...flags, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.passedThrough).toBe(true);
    expect(summary.quantizedLayers).toBe(36); // 18 convolutions in each branch
    for (const [rate, chunk] of [[16000, 512], [8000, 256]] as const) {
      const fed: Feed[] = [
        { name: 'input', dtype: 'float32', shape: [1, chunk], data: audio(chunk, 11) },
        { name: 'sr', dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(rate)]) },
        ...feeds.slice(1),
      ];
      const [want, got] = [await runOrt(SOURCE, fed), await runOrt(out, fed)];
      for (const k of OUTPUTS) expect(cosine(got[k]!, want[k]!), `${k} at ${rate} Hz`).toBeGreaterThanOrEqual(0.999);
      expect(maxAbsDiff(got.output!, want.output!), `speech probability at ${rate} Hz`).toBeLessThanOrEqual(5e-3);
    }
  });

  it('refuses fixes that do not fit the model, before writing anything', () => {
    const out = join(dir, 'never.tflite');
    const cases: [string[], RegExp][] = [
      [['--input-value', 'rate=16000'], /--input-value rate: .* has no input 'rate' \(inputs: input, sr, h, c\)/],
      [['--input-value', 'sr=16000,8000'], /--input-value sr: 2 values for shape \[\] \(1 expected\)/],
      [['--input-value', 'sr=16000.5'], /the input is int64, and 16000.5 is not an integer/],
      [['--shape', 'h=3x1x64'], /--shape h=3x1x64: dim 0 is 3, expected 2/],
      [['--input-value', 'sr=abc'], /--input-value: expected NAME=VALUE/],
    ];
    for (const [flags, want] of cases) {
      const r = cli(['export', SOURCE, '-o', out, ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(want);
    }
    const tfjs = cli(['export', fixture('models', 'cnn'), '-o', out, '--input-value', 'x=1']);
    expect(tfjs.code).toBe(2);
    expect(tfjs.stderr).toMatch(/--input-value applies to ONNX models/);
    const data = cli(['quantize', SOURCE, '-o', out, '--mode', 'dynamic', ...FIX, '--data', fixture('data', 'mnist-test.npz')]);
    expect(data.code).toBe(2);
    expect(data.stderr).toMatch(/--data measures the artifact against the source/);
    expect(() => readFileSync(out)).toThrow();
  });
});
