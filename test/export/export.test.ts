// `edgelm export` (float) end to end, as a user runs it: every artifact is measured in the runtime that
// runs it (LiteRT for .tflite, onnxruntime for .onnx) and must classify exactly as the source does.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLiteRt } from '../../src/runtime/litert.js';
import { cli, fixture, mnistTest, relError, tempDir } from '../helpers.js';

const TEST = fixture('data', 'mnist-test.npz');
const dir = tempDir();
const out = (name: string): string => join(dir, name);
const checkDir = tempDir();

interface EvalModel {
  file: string;
  format: string;
  runtime: string;
  samples: number;
  accuracy: number;
  agreement?: number;
}

function exportModel(model: string, output: string, ...args: string[]): void {
  const r = cli(['export', model, '-o', output, ...args]);
  expect(r.code, r.stderr).toBe(0);
}

const python = '/usr/bin/python3';
const hasOnnx = spawnSync(python, ['-c', 'import onnx']).status === 0;

/**
 * onnx.checker.check_model(path, full_check=True) rewrites the file in place with inferred shapes
 * (onnx 1.12: infer_shapes_path(model) with no output path), so it checks a copy: the export under test,
 * which the determinism test compares byte for byte, stays untouched.
 */
function onnxChecker(file: string): void {
  const path = join(checkDir, basename(file));
  copyFileSync(file, path);
  const r = spawnSync(python, ['-c', 'import onnx,sys; onnx.checker.check_model(sys.argv[1], full_check=True)', path], { encoding: 'utf8' });
  expect(r.status, `onnx.checker on ${path}: ${r.stderr}`).toBe(0);
}

// graph-cnn is authored node by node with seeded random weights (fixtures/build-graphmodel.ts): it is
// not trained, so its accuracy is chance level, but its export must still classify exactly as it does.
const sources = [
  ['mlp', 'TF.js LayersModel MLP', fixture('models', 'mlp'), true],
  ['cnn', 'TF.js LayersModel CNN with batch norm', fixture('models', 'cnn'), true],
  ['cnn-nchw', 'NCHW ONNX CNN', fixture('models', 'cnn-nchw.onnx'), true],
  ['lenet', 'ONNX LeNet-300-100', fixture('models', 'lenet-300-100.onnx'), true],
  ['graph-cnn', 'TF.js GraphModel (untrained)', fixture('models', 'graph-cnn'), false],
] as const;

beforeAll(() => {
  for (const [key, , src] of sources) {
    exportModel(src, out(`${key}.tflite`));
    exportModel(src, out(`${key}.onnx`));
  }
}, 600_000);

describe('float export round trips: same accuracy in the runtime that runs the artifact', () => {
  it.each(sources)('%s (%s): .tflite in LiteRT and .onnx in onnxruntime match the source exactly', (key, _, src, trained) => {
    const r = cli(['eval', src, out(`${key}.tflite`), out(`${key}.onnx`), '--data', TEST, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { models } = JSON.parse(r.stdout) as { models: EvalModel[] };
    expect(models).toHaveLength(3);
    const [source, tflite, onnx] = models as [EvalModel, EvalModel, EvalModel];
    if (trained) expect(source.accuracy).toBeGreaterThan(0.9);
    expect(source.samples).toBeGreaterThan(0);
    expect(tflite.format).toBe('tflite');
    expect(tflite.runtime).toBe('litert');
    expect(onnx.format).toBe('onnx');
    expect(onnx.runtime).toBe('onnxruntime');
    for (const a of [tflite, onnx]) {
      expect(a.samples).toBe(source.samples);
      expect(a.accuracy, `${a.file} accuracy`).toBe(source.accuracy);
      expect(a.agreement, `${a.file} agreement`).toBeGreaterThanOrEqual(0.999);
    }
  }, 300_000);
});

describe('numerical agreement of the NCHW ONNX source and its TFLite export', () => {
  it('original .onnx in onnxruntime vs exported .tflite in LiteRT on a real digit: within 1e-4', async () => {
    const { x } = await mnistTest(1);
    const dims = [1, 1, 28, 28]; // one channel: NCHW and NHWC bytes coincide
    const s = await ort.InferenceSession.create(fixture('models', 'cnn-nchw.onnx'));
    const o = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    const want = o[s.outputNames[0]!]!.data as Float32Array;
    await s.release();

    const path = out('cnn-nchw.tflite');
    const lrt = await openLiteRt(new Uint8Array(readFileSync(path)), path);
    try {
      expect(lrt.inputs[0]!.shape).toEqual([1, 1, 28, 28]);
      const [y] = await lrt.run([{ data: x, shape: dims }]);
      expect(y!.data.length).toBe(want.length);
      expect(relError(y!.data, want)).toBeLessThanOrEqual(1e-4);
    } finally {
      lrt.dispose();
    }
  }, 120_000);
});

describe('export options', () => {
  it('--batch 8 bakes batch 8 into the TFLite input shape', () => {
    const path = out('mlp-b8.tflite');
    exportModel(fixture('models', 'mlp'), path, '--batch', '8');
    const r = cli(['inspect', path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { inputs: { shape: (number | null)[] }[] };
    expect(report.inputs[0]!.shape[0]).toBe(8);
    const d = cli(['inspect', out('mlp.tflite'), '--json']);
    expect((JSON.parse(d.stdout) as { inputs: { shape: (number | null)[] }[] }).inputs[0]!.shape[0]).toBe(1);
  }, 120_000);
});

describe.skipIf(!hasOnnx)('exported ONNX is valid for onnx.checker (full_check)', () => {
  it.each(sources)('%s', (key) => onnxChecker(out(`${key}.onnx`)), 120_000);
});

describe('exports are deterministic', () => {
  it.each(sources)('%s: exporting twice gives byte-identical .tflite and .onnx', (key, _, src) => {
    for (const ext of ['tflite', 'onnx']) {
      const again = out(`${key}-again.${ext}`);
      exportModel(src, again);
      const a = readFileSync(out(`${key}.${ext}`));
      const b = readFileSync(again);
      expect(b.length, `${key}.${ext} size`).toBe(a.length);
      expect(Buffer.compare(a, b), `${key}.${ext} bytes`).toBe(0);
    }
  }, 120_000);
});
