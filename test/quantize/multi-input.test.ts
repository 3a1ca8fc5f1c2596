// Calibration data for models with several inputs (src/data/feeds.ts): a Hugging Face-style decoder
// exported with input_ids and attention_mask (and a KV cache) calibrates from token ids alone (mask of
// ones, empty past), an .npz gives any other input by name (Silero VAD's LSTM state), and an input with
// neither data nor a convention is refused by name before anything is written. Every artifact is
// checked against onnxruntime (and LiteRT) on the float source.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpz } from '../../src/data/npz.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { prng } from '../../src/train/loop.js';
import { cliAsync, fixture, tempDir } from '../helpers.js';
import { cosine, makeFeeds, MANIFEST, runOrt, type Feed } from '../exports/inputs.js';

const dir = tempDir();
const GPT2 = fixture('exports', 'gpt2-13.onnx');
const GPT2_KV = fixture('exports', 'gpt2-kv-13.onnx');
const VAD = fixture('npm', 'silero_vad.onnx');

function ids(rows: number, cols: number, seed: number): BigInt64Array {
  const rand = prng(seed);
  return BigInt64Array.from({ length: rows * cols }, () => BigInt(Math.floor(rand() * 100)));
}

function npz(name: string, arrays: Record<string, { dtype: 'int64' | 'float32'; shape: number[]; data: BigInt64Array | Float32Array }>): string {
  const file = join(dir, name);
  writeFileSync(file, encodeNpz(arrays));
  return file;
}

/** Sum of squared differences between two models' logits in onnxruntime, fed ids and a mask of ones. */
async function logitError(file: string, reference: Float32Array, x: BigInt64Array, shape: number[]): Promise<number> {
  const feeds: Feed[] = [
    { name: 'input_ids', dtype: 'int64', shape, data: x },
    { name: 'attention_mask', dtype: 'int64', shape, data: new BigInt64Array(x.length).fill(1n) },
  ];
  const y = (await runOrt(file, feeds)).logits!;
  return y.reduce((s, v, i) => s + (v - reference[i]!) ** 2, 0);
}

describe('calibration data for models with several inputs', () => {
  const calib = npz('ids.npz', { x: { dtype: 'int64', shape: [32, 16], data: ids(32, 16, 1) } });

  it('GPT-2 export (input_ids, attention_mask): GPTQ calibrated on token ids alone is closer to the float source than round-to-nearest in onnxruntime', async () => {
    const held = ids(8, 16, 2);
    const mask: Feed = { name: 'attention_mask', dtype: 'int64', shape: [8, 16], data: new BigInt64Array(128).fill(1n) };
    const reference = (await runOrt(GPT2, [{ name: 'input_ids', dtype: 'int64', shape: [8, 16], data: held }, mask])).logits!;
    const errors: Record<string, number> = {};
    for (const method of ['rtn', 'gptq']) {
      const out = join(dir, `gpt2-${method}.onnx`);
      const r = await cliAsync(['quantize', GPT2, '--granularity', 'block', '--bits', '4', '--method', method, ...(method === 'gptq' ? ['--calibration', calib] : []), '-o', out]);
      expect(r.code, r.stderr).toBe(0);
      errors[method] = await logitError(out, reference, held, [8, 16]);
    }
    expect(errors.gptq!).toBeLessThan(errors.rtn!);
  }, 120_000);

  it('GPT-2 with a KV cache: int8 calibrated on token ids alone (mask of ones, empty past) agrees with the source at past lengths 0 and 3', async () => {
    const out = join(dir, 'gpt2-kv-int8.onnx');
    const r = await cliAsync(['quantize', GPT2_KV, '--mode', 'int8', '--calibration', calib, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const past of [0, 3]) {
      const feeds = makeFeeds(MANIFEST['gpt2-kv-13.onnx']!, { batch: 2, seq: 5, past });
      const [want, got] = [await runOrt(GPT2_KV, feeds), await runOrt(out, feeds)];
      for (const name of ['logits', 'present.1.value']) expect(cosine(got[name]!, want[name]!), `${name} at past ${past}`).toBeGreaterThan(0.99);
    }
  }, 120_000);

  it('an .npz naming every input by the model\'s names calibrates as the conventions do when it holds their values', async () => {
    const x = ids(32, 16, 1);
    const named = npz('named.npz', {
      input_ids: { dtype: 'int64', shape: [32, 16], data: x },
      attention_mask: { dtype: 'int64', shape: [32, 16], data: new BigInt64Array(512).fill(1n) },
    });
    const [a, b] = [join(dir, 'conv.onnx'), join(dir, 'named.onnx')];
    for (const [data, out] of [[calib, a], [named, b]] as const) {
      const r = await cliAsync(['quantize', GPT2, '--mode', 'int8', '--calibration', data, '-o', out]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
  }, 120_000);

  describe('Silero VAD (input, LSTM state h and c without a batch axis)', () => {
    const FIX = ['--input-value', 'sr=16000', '--shape', 'input=1x512'];
    const rand = prng(7);
    // 16 chunks of 512 samples at 16 kHz: two tones and a noise floor.
    const audio = Float32Array.from({ length: 16 * 512 }, (_, i) => 0.2 * Math.sin((2 * Math.PI * 300 * i) / 16000) + 0.1 * Math.sin((2 * Math.PI * 1200 * i) / 16000) + 0.03 * (rand() * 2 - 1));
    const sr: Feed = { name: 'sr', dtype: 'int64', shape: [], data: BigInt64Array.from([16000n]) };
    const chunkFeeds = (k: number, state: Float32Array[]): Feed[] => [
      { name: 'input', dtype: 'float32', shape: [1, 512], data: audio.slice(k * 512, (k + 1) * 512) },
      { name: 'h', dtype: 'float32', shape: [2, 1, 64], data: Float32Array.from(state[0]!) },
      { name: 'c', dtype: 'float32', shape: [2, 1, 64], data: Float32Array.from(state[1]!) },
    ];
    /** Calibration data as a user records it: each chunk with the LSTM state the source carries into it. */
    async function streamData(): Promise<string> {
      const [h, c] = [new Float32Array(16 * 128), new Float32Array(16 * 128)];
      let state: Float32Array[] = [new Float32Array(128), new Float32Array(128)];
      for (let k = 0; k < 16; k++) {
        h.set(state[0]!, k * 128);
        c.set(state[1]!, k * 128);
        const out = await runOrt(VAD, [...chunkFeeds(k, state), sr]);
        state = [out.hn!, out.cn!];
      }
      return npz('vad.npz', { x: { dtype: 'float32', shape: [16, 512], data: audio }, h: { dtype: 'float32', shape: [16, 2, 1, 64], data: h }, c: { dtype: 'float32', shape: [16, 2, 1, 64], data: c } });
    }

    it('without data for h, refuses naming the input and writes nothing', async () => {
      const noState = npz('vad-x.npz', { x: { dtype: 'float32', shape: [16, 512], data: audio } });
      const out = join(dir, 'vad-refused.tflite');
      const r = await cliAsync(['quantize', VAD, ...FIX, '--mode', 'int8', '--calibration', noState, '-o', out]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain("model input 'h' [2, 1, 64]");
      expect(existsSync(out)).toBe(false);
    }, 60_000);

    it('int8 calibrated with h and c from the .npz: TFLite in LiteRT and ONNX in onnxruntime stay within 0.08 of the source\'s speech probability on every chunk (each fed the source\'s state)', async () => {
      const data = await streamData();
      const files = ['tflite', 'onnx'].map((ext) => join(dir, `vad-int8.${ext}`));
      for (const out of files) {
        const r = await cliAsync(['quantize', VAD, ...FIX, '--mode', 'int8', '--calibration', data, '-o', out]);
        expect(r.code, r.stderr).toBe(0);
      }
      // Each chunk with the state the source carries into it (one call's quantization error; a file left
      // to carry its own state drifts further, as int8 recurrent models do).
      const lite = await openLiteRt(readFileSync(files[0]!), files[0]!);
      let state: Float32Array[] = [new Float32Array(128), new Float32Array(128)];
      const worst = { onnx: 0, tflite: 0 };
      try {
        for (let k = 0; k < 16; k++) {
          const want = await runOrt(VAD, [...chunkFeeds(k, state), sr]);
          const o = await runOrt(files[1]!, chunkFeeds(k, state));
          const [p] = await lite.run(chunkFeeds(k, state).map((f) => ({ data: f.data as Float32Array, shape: f.shape })));
          worst.onnx = Math.max(worst.onnx, Math.abs(o.output![0]! - want.output![0]!));
          worst.tflite = Math.max(worst.tflite, Math.abs((p!.data as Float32Array)[0]! - want.output![0]!));
          state = [want.hn!, want.cn!];
        }
      } finally {
        lite.dispose();
      }
      console.log('Silero int8 worst |Δp| over 16 chunks', worst);
      expect(worst.onnx).toBeLessThan(0.08);
      expect(worst.tflite).toBeLessThan(0.08);
    }, 120_000);
  });
});

