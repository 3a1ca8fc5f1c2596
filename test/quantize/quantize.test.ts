// `edgelm quantize` end to end, as a user runs it; every artifact measured in the runtime that runs it
// (LiteRT, onnxruntime, and Arm NN as a second TFLite consumer), weights checked against the formula.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLayersModel } from '../../src/import/tfjs-layers/index.js';
import { readGraphModel } from '../../src/import/tfjs-graph/index.js';
import { decodeModel, num } from '../../src/import/onnx/proto.js';
import { openRuntime } from '../../src/runtime/index.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { cli, fixture, mnistTest, tempDir, ROOT } from '../helpers.js';

const TRAIN = fixture('data', 'mnist-train.npz');
const TEST = fixture('data', 'mnist-test.npz');
const dir = tempDir();
const out = (name: string): string => join(dir, name);
const size = (p: string): number => statSync(p).size;

interface QuantizeJson {
  bytes: number;
  eval: { source: { accuracy: number }; artifact: { accuracy: number; runtime: string }; accuracyDrop: number };
  perLayer?: { node: string; cosine: number; sqnrDb: number }[];
}

function quantize(model: string, output: string, ...args: string[]): QuantizeJson {
  const r = cli(['quantize', model, '-o', output, '--data', TEST, '--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as QuantizeJson;
}

function exportFloat(model: string, output: string): number {
  const r = cli(['export', model, '-o', output]);
  expect(r.code, r.stderr).toBe(0);
  return size(output);
}

const python = '/usr/bin/python3';
const hasPython = (module: string): boolean => spawnSync(python, ['-c', `import ${module}`]).status === 0;
const hasOnnx = hasPython('onnx');
const hasArmnn = hasPython('pyarmnn');

function onnxChecker(path: string): void {
  const r = spawnSync(python, ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path], { encoding: 'utf8' });
  expect(r.stderr.trim().split('\n').pop() ?? '', `onnx.checker on ${path}`).not.toMatch(/Error/);
  expect(r.status).toBe(0);
}

const floatSizes: Record<string, number> = {};
beforeAll(() => {
  floatSizes.cnnTflite = exportFloat(fixture('models', 'cnn'), out('cnn-float.tflite'));
  floatSizes.mlpTflite = exportFloat(fixture('models', 'mlp'), out('mlp-float.tflite'));
  floatSizes.mlpOnnx = exportFloat(fixture('models', 'lenet-300-100.onnx'), out('mlp-float.onnx'));
  floatSizes.cnnOnnx = exportFloat(fixture('models', 'cnn-nchw.onnx'), out('cnn-float.onnx'));
});

describe('full int8 TFLite of the small CNN', () => {
  const cases = [
    ['TF.js LayersModel', fixture('models', 'cnn'), 'cnn-int8.tflite'],
    ['NCHW PyTorch-style ONNX', fixture('models', 'cnn-nchw.onnx'), 'cnn-nchw-int8.tflite'],
  ] as const;
  it.each(cases)('from a %s: within 1 point of float in LiteRT, at most 40%% of the float TFLite', (_, model, name) => {
    const r = quantize(model, out(name), '--mode', 'int8', '--calibration', TRAIN, '--calibration-limit', '500');
    expect(r.eval.artifact.runtime).toBe('litert');
    expect(r.eval.source.accuracy).toBeGreaterThan(0.96);
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.01);
    expect(size(out(name))).toBeLessThanOrEqual(0.4 * floatSizes.cnnTflite!);
  });

  it('keeps the source layout: the NCHW model still takes [1, 1, 28, 28]', async () => {
    const s = await openRuntime(out('cnn-nchw-int8.tflite'));
    expect(s.inputs[0]!.shape).toEqual([1, 1, 28, 28]);
    s.dispose();
  });

  it('writes conv weights int8 per channel with scale max|w|/127 and zero point 0, biases int32', () => {
    const r = cli(['inspect', out('cnn-int8.tflite'), '--json']);
    const report = JSON.parse(r.stdout) as { tensors: { name: string; dtype: string; quantization?: { scale: number[]; zeroPoint: number[] } }[]; ops: Record<string, number> };
    const kernel = report.tensors.find((t) => t.name === 'conv1/kernel')!;
    expect(kernel.dtype).toBe('int8');
    // The formula, from the source weights: HWIO [3, 3, 1, 16], output channel last.
    const w = readLayersModel(fixture('models', 'cnn', 'model.json')).constants.get('conv1/kernel')!;
    const channels = w.shape[3]!;
    const want = Array.from({ length: channels }, (_, c) => {
      let m = 0;
      for (let i = c; i < w.data.length; i += channels) m = Math.max(m, Math.abs(w.data[i] as number));
      return Math.fround(m / 127);
    });
    expect(kernel.quantization!.scale).toEqual(want);
    expect(kernel.quantization!.zeroPoint).toEqual(new Array(channels).fill(0));
    expect(report.tensors.find((t) => t.name === 'conv1/bias')!.dtype).toBe('int32');
    // Float in and out: one QUANTIZE at the input, one DEQUANTIZE at the output.
    expect(report.ops.QUANTIZE).toBe(1);
    expect(report.ops.DEQUANTIZE).toBe(1);
  });

  it.skipIf(!hasArmnn)('loads and runs in Arm NN (a second TFLite consumer) within 1 point of float', () => {
    const run = (model: string): number => {
      const r = spawnSync(python, [join(ROOT, 'test', 'tools', 'armnn-accuracy.py'), model, TEST, '300'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout.trim().split('\n').pop());
    };
    const float = run(out('cnn-float.tflite'));
    const int8 = run(out('cnn-int8.tflite'));
    expect(float).toBeGreaterThan(0.95);
    expect(float - int8).toBeLessThanOrEqual(0.01);
  });
});

describe('integer-only TFLite (--io uint8) and ONNX external data', () => {
  it('--io uint8: uint8 input and output, within 1 point in LiteRT and in Arm NN', () => {
    const file = out('cnn-u8io.tflite');
    const r = quantize(fixture('models', 'cnn'), file, '--mode', 'int8', '--io', 'uint8', '--calibration', TRAIN, '--calibration-limit', '500');
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.01);
    const info = JSON.parse(cli(['inspect', file, '--json']).stdout) as { inputs: { dtype: string }[]; outputs: { dtype: string }[] };
    expect(info.inputs[0]!.dtype).toBe('uint8');
    expect(info.outputs[0]!.dtype).toBe('uint8');
    if (hasArmnn) {
      const a = spawnSync(python, [join(ROOT, 'test', 'tools', 'armnn-accuracy.py'), file, TEST, '300'], { encoding: 'utf8' });
      expect(a.status, a.stderr).toBe(0);
      expect(Number(a.stdout.trim().split('\n').pop())).toBeGreaterThan(0.95);
    }
  });

  it('--external-data: weights in <model>.data, loads in onnxruntime with the same accuracy, counted in the size', () => {
    const file = out('mlp-ext.onnx');
    const r = quantize(fixture('models', 'lenet-300-100.onnx'), file, '--external-data');
    expect(size(file)).toBeLessThan(10_000);
    expect(size(`${file}.data`)).toBeGreaterThan(250_000);
    expect(r.bytes).toBe(size(file) + size(`${file}.data`));
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.005);
    if (hasOnnx) onnxChecker(file);
  });
});

describe('streaming ONNX quantization (bounded memory, for models past 2 GiB)', () => {
  it.each([
    ['inline weights', fixture('models', 'lenet-300-100.onnx')],
    ['external data', fixture('models', 'lenet-external', 'lenet.onnx')],
  ])('%s: Gemm weights as uint8 codes of DynamicQuantizeLinear → MatMulInteger products, external data out, same accuracy as the in-memory path', (_, model) => {
    const file = out(`streamed-${_.split(' ')[0]}.onnx`);
    const r = quantize(model, file, '--stream') as QuantizeJson & { streamed: boolean };
    expect(r.streamed).toBe(true);
    expect(existsSync(`${file}.data`)).toBe(true);
    // The form the in-memory writer gives (test/export/onnx-dynamic.test.ts checks its arithmetic).
    const m = decodeModel(file, readFileSync(file));
    const count = (type: string): number => m.graph!.node!.filter((n) => n.opType === type).length;
    expect([count('DynamicQuantizeLinear'), count('MatMulInteger'), count('DequantizeLinear'), count('Gemm')]).toEqual([3, 3, 0, 0]);
    const codes = m.graph!.initializer!.filter((t) => t.name!.endsWith('_quantized'));
    expect(codes.map((t) => [t.dataType, t.dims!.map(num)])).toEqual([[2, [784, 300]], [2, [300, 100]], [2, [100, 10]]]); // UINT8, [K, N]
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.005);
    expect(r.bytes).toBeLessThanOrEqual(0.3 * floatSizes.mlpOnnx!);
    if (hasOnnx) onnxChecker(file);
  });

  it('refuses models older than opset 13 (no per-channel DequantizeLinear) with exit 2', () => {
    const r = cli(['quantize', fixture('models', 'mlp-opset11.onnx'), '-o', out('old.onnx'), '--stream']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/opset 13/);
  });
});

describe('dynamic int8 (weights only) of the MLP', () => {
  it('ONNX: within 0.5 point in onnxruntime, at most 30% of the float size, accepted by onnx.checker', () => {
    const r = quantize(fixture('models', 'lenet-300-100.onnx'), out('mlp-dynamic.onnx'));
    expect(r.eval.artifact.runtime).toBe('onnxruntime');
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.005);
    expect(size(out('mlp-dynamic.onnx'))).toBeLessThanOrEqual(0.3 * floatSizes.mlpOnnx!);
    if (hasOnnx) onnxChecker(out('mlp-dynamic.onnx'));
  });

  it('TFLite: within 0.5 point in LiteRT, at most 30% of the float size', () => {
    const r = quantize(fixture('models', 'mlp'), out('mlp-dynamic.tflite'));
    expect(r.eval.artifact.runtime).toBe('litert');
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.005);
    expect(size(out('mlp-dynamic.tflite'))).toBeLessThanOrEqual(0.3 * floatSizes.mlpTflite!);
  });
});

describe('other modes', () => {
  it('int8 QDQ ONNX of the CNN: within 1 point in onnxruntime and accepted by onnx.checker', () => {
    const r = quantize(fixture('models', 'cnn-nchw.onnx'), out('cnn-qdq.onnx'), '--mode', 'int8', '--calibration', TRAIN, '--calibration-limit', '500');
    expect(r.eval.source.accuracy - r.eval.artifact.accuracy).toBeLessThanOrEqual(0.01);
    expect(size(out('cnn-qdq.onnx'))).toBeLessThanOrEqual(0.4 * floatSizes.cnnOnnx!);
    if (hasOnnx) onnxChecker(out('cnn-qdq.onnx'));
  });

  it.each([
    ['cnn-f16.tflite', fixture('models', 'cnn'), 'cnnTflite'],
    ['cnn-f16.onnx', fixture('models', 'cnn-nchw.onnx'), 'cnnOnnx'],
  ])('float16 %s: about half the size, same accuracy within 0.1 point', (name, model, key) => {
    const r = quantize(model, out(name), '--mode', 'float16');
    expect(Math.abs(r.eval.source.accuracy - r.eval.artifact.accuracy)).toBeLessThanOrEqual(0.001);
    expect(size(out(name))).toBeLessThanOrEqual(0.55 * floatSizes[key]!);
    if (hasOnnx && name.endsWith('.onnx')) onnxChecker(out(name));
  });

  it('--exclude keeps the matching layers in float', () => {
    const r = cli(['quantize', fixture('models', 'mlp'), '-o', out('mlp-excl.tflite'), '--exclude', 'fc1*', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(cli(['inspect', out('mlp-excl.tflite'), '--json']).stdout) as { tensors: { name: string; dtype: string }[] };
    expect(report.tensors.find((t) => t.name === 'fc1/kernel')!.dtype).toBe('float32');
    expect(report.tensors.find((t) => t.name === 'fc2/kernel')!.dtype).toBe('int8');
  });
});

describe('per-layer report', () => {
  it('SQNR follows the uniform-quantization law: about 6 dB per weight bit', () => {
    const report = (bits: string): QuantizeJson['perLayer'] =>
      (JSON.parse(cli(['quantize', fixture('models', 'mlp'), '-o', out(`mlp-${bits}.onnx`), '--bits', bits, '--per-layer-report', '--calibration', TRAIN, '--json']).stdout) as QuantizeJson).perLayer!;
    const b8 = report('8')!;
    const b4 = report('4')!;
    expect(b8.map((l) => l.node)).toEqual(['fc1/dense', 'fc2/dense', 'logits']);
    for (let i = 0; i < b8.length; i++) {
      expect(b8[i]!.cosine).toBeGreaterThan(0.999);
      expect(b8[i]!.cosine).toBeLessThanOrEqual(1);
      const gain = b8[i]!.sqnrDb - b4[i]!.sqnrDb;
      // 4 extra bits ≈ 4 × 6.02 dB; symmetric codes over [−(2^(b−1)−1), 2^(b−1)−1] add log2(127/7) ≈ 4.2 bits at most.
      expect(gain).toBeGreaterThan(20);
      expect(gain).toBeLessThan(27);
    }
  });
});

describe('GraphModel converted from TensorFlow → TFLite matches TF.js', () => {
  it.each([
    ['float (export)', [] as string[], 0.99999],
    ['dynamic int8', ['quantize'], 0.99],
  ])('%s: cosine of every output against TF.js', async (_, mode, minCosine) => {
    const model = fixture('models', 'graph-cnn', 'model.json');
    const file = out(`graph-${mode.length ? 'dyn' : 'float'}.tflite`);
    const r = cli([...(mode.length ? mode : ['export']), model, '-o', file, '--batch', '16']);
    expect(r.code, r.stderr).toBe(0);
    const { x } = await mnistTest(16);
    const tf = await loadTf('wasm');
    const graph = readGraphModel(model);
    const ex = new GraphExecutor(tf, graph);
    const want = ex.run({ input: tf.tensor(x, [16, 28, 28, 1]) }).map((t) => t.dataSync() as Float32Array);
    ex.dispose();
    const { openLiteRt } = await import('../../src/runtime/litert.js');
    const s = await openLiteRt(readFileSync(file), file);
    const got = (await s.run([{ data: x, shape: [16, 28, 28, 1] }])).map((o) => o.data as Float32Array);
    for (let k = 0; k < want.length; k++) {
      const a = want[k]!;
      const b = got[k]!;
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < a.length; i++) {
        dot += a[i]! * b[i]!;
        na += a[i]! ** 2;
        nb += b[i]! ** 2;
      }
      expect(dot / Math.sqrt(na * nb)).toBeGreaterThanOrEqual(minCosine);
    }
    s.dispose();
  });
});

describe('refusals and determinism', () => {
  it.each([
    [['--mode', 'int8'], /--calibration/],
    [['--bits', '9'], /--bits/],
    [['--granularity', 'block'], /block-wise/],
    [['--mode', 'int4'], /--mode/],
  ])('%j → exit 2 with one line', (args, message) => {
    const r = cli(['quantize', fixture('models', 'mlp'), '-o', out('refused.tflite'), ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('the same command writes byte-identical files', () => {
    const args = (o: string): string[] => ['quantize', fixture('models', 'cnn'), '-o', o, '--mode', 'int8', '--calibration', TRAIN, '--calibration-limit', '200'];
    expect(cli(args(out('det-a.tflite'))).code).toBe(0);
    expect(cli(args(out('det-b.tflite'))).code).toBe(0);
    expect(readFileSync(out('det-a.tflite')).equals(readFileSync(out('det-b.tflite')))).toBe(true);
  });
});
