// The TF.js writer: GraphModels that TF.js's own loadGraphModel runs, with weights stored the way
// tensorflowjs_converter stores them (uint8 min/scale, float16), decoded here by the formula.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLayersModel } from '../../src/import/tfjs-layers/index.js';
import { cli, fixture, tempDir } from '../helpers.js';

const TEST = fixture('data', 'mnist-test.npz');
const dir = tempDir();

interface EvalJson {
  models: { file: string; runtime: string; accuracy: number; agreement?: number }[];
}

function evalJson(...models: string[]): EvalJson {
  const r = cli(['eval', ...models, '--data', TEST, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as EvalJson;
}

describe('export to a TF.js GraphModel', () => {
  it.each([
    ['mlp', fixture('models', 'mlp')],
    ['cnn', fixture('models', 'cnn')],
    ['cnn-nchw', fixture('models', 'cnn-nchw.onnx')],
    ['graph-cnn', fixture('models', 'graph-cnn')],
  ])('%s: TF.js loadGraphModel scores exactly the source, predictions identical', (name, model) => {
    const out = join(dir, `${name}-tfjs`);
    const r = cli(['export', model, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { format: string };
    expect(json.format).toBe('graph-model');
    const [src, art] = evalJson(model, join(out, 'model.json')).models;
    expect(art!.runtime).toBe('tfjs');
    expect(art!.accuracy).toBe(src!.accuracy);
    expect(art!.agreement).toBe(1);
  });
});

describe('quantized TF.js weights, as tensorflowjs_converter stores them', () => {
  it('dynamic: uint8 codes with min/scale decode to the weights within scale/2, zero exact; accuracy within 0.5 point', () => {
    const out = join(dir, 'mlp-u8');
    const r = cli(['quantize', fixture('models', 'mlp'), '-o', out, '--data', TEST, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const q = JSON.parse(r.stdout) as { eval: { accuracyDrop: number }; sizeRatio: number };
    expect(q.eval.accuracyDrop).toBeLessThanOrEqual(0.005);
    expect(q.sizeRatio).toBeLessThanOrEqual(0.3);
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; min: number; scale: number } }[] }[] };
    const group = model.weightsManifest[0]!;
    const bytes = Buffer.concat(group.paths.map((p) => readFileSync(join(out, p))));
    const source = readLayersModel(fixture('models', 'mlp', 'model.json'));
    let offset = 0;
    let checked = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q8 = w.quantization;
      const width = q8?.dtype === 'uint8' ? 1 : 4;
      const original = source.constants.get(w.name);
      if (q8 && original) {
        expect(q8.dtype).toBe('uint8');
        // Zero is exactly representable: min is a whole number of steps below 0.
        expect(Math.abs(q8.min / q8.scale - Math.round(q8.min / q8.scale))).toBeLessThan(1e-3);
        for (let i = 0; i < n; i++) {
          const decoded = bytes[offset + i]! * q8.scale + q8.min;
          expect(Math.abs(decoded - (original.data[i] as number))).toBeLessThanOrEqual(q8.scale / 2 + 1e-6);
        }
        checked++;
      }
      offset += n * width;
    }
    expect(checked).toBe(3); // the three kernels; biases stay float32
    expect(offset).toBe(bytes.length);
  });

  it('float16: half-size weights that TF.js decodes, same accuracy', () => {
    const out = join(dir, 'cnn-f16');
    const r = cli(['quantize', fixture('models', 'cnn'), '-o', out, '--mode', 'float16', '--data', TEST, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const q = JSON.parse(r.stdout) as { eval: { accuracyDrop: number }; sizeRatio: number };
    expect(Math.abs(q.eval.accuracyDrop)).toBeLessThanOrEqual(0.001);
    expect(q.sizeRatio).toBeLessThan(0.55);
    const model = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { weightsManifest: { weights: { quantization?: { dtype: string } }[] }[] };
    expect(model.weightsManifest[0]!.weights.filter((w) => w.quantization?.dtype === 'float16').length).toBe(5);
  });

  it('refuses full int8 for TF.js (it has no int8 kernels) with exit 2', () => {
    const r = cli(['quantize', fixture('models', 'mlp'), '-o', join(dir, 'x-tfjs'), '--mode', 'int8', '--calibration', TEST]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TF\.js runs float kernels/);
  });
});
