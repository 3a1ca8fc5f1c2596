// Normalizations in the TF.js writer: ONNX LayerNormalization (opset 17), the decomposed layer norm torch
// writes at opset 13, and RMSNorm as torch writes it (Pow, ReduceMean, Sqrt, 1/·) or with Reciprocal. Each
// model is written as a GraphModel, run by TF.js's own loadGraphModel, and compared with onnxruntime on the
// source, at a run-time batch.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportTfjs } from '../../src/export/tfjs/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { openRuntime } from '../../src/runtime/index.js';
import { maxRelError, noise, tempDir } from '../helpers.js';
import { floats } from './conv-models.js';

const { onnx } = onnxProto;
const root = tempDir();
const [T, D] = [5, 16];

const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: T }, { dimValue: D }] } } } });
const scalar = (name: string, v: number) => floats(name, [], [v]);
const ints = (name: string, v: number[]) => ({ name, dataType: 7, dims: [v.length], int64Data: v });
const node = (opType: string, input: string[], output: string, attribute: object[] = []) => ({ opType, name: `/${output}`, input, output: [output], attribute });
const axesAttr = (v: number[]) => ({ name: 'axes', type: 7, ints: v });
const keepdims = { name: 'keepdims', type: 2, i: 1 };

/**
 * A model x → x·W + offset → (the normalization `body` from 'h' to 'y'): the product makes the rows
 * differ in scale, and `offset` moves their mean far from 0, where a variance taken as E[x²] − E[x]² loses digits.
 */
function model(opset: number, body: object[], initializer: object[], offset: number): Uint8Array {
  const graph = {
    name: 'norm',
    input: [value('x')],
    output: [value('y')],
    initializer: [floats('W', [D, D], noise(D * D, 11)), scalar('offset', offset), ...initializer],
    node: [node('MatMul', ['x', 'W'], 'xw'), node('Add', ['xw', 'offset'], 'h'), ...body],
  };
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph }).finish();
}

const gamma = (shape: number[], seed: number) => floats('gamma', shape, Array.from(noise(shape.reduce((a, b) => a * b, 1), seed), (v) => 1 + 0.5 * v));
const beta = (shape: number[], seed: number) => floats('beta', shape, Array.from(noise(shape.reduce((a, b) => a * b, 1), seed), (v) => 0.3 * v));

const MODELS: [string, () => Uint8Array][] = [
  ['LayerNormalization over the last axis, with a bias', () =>
    model(17, [node('LayerNormalization', ['h', 'gamma', 'beta'], 'y', [{ name: 'axis', type: 2, i: -1 }, { name: 'epsilon', type: 1, f: 1e-5 }])], [gamma([D], 1), beta([D], 2)], 0.5)],
  ['LayerNormalization over the last two axes, no bias, ε = 1e-2', () =>
    model(17, [node('LayerNormalization', ['h', 'gamma'], 'y', [{ name: 'axis', type: 2, i: 1 }, { name: 'epsilon', type: 1, f: 1e-2 }])], [gamma([T, D], 3)], 0)],
  ['LayerNormalization of values whose mean is 100', () =>
    model(17, [node('LayerNormalization', ['h', 'gamma', 'beta'], 'y', [{ name: 'epsilon', type: 1, f: 1e-12 }])], [gamma([D], 4), beta([D], 5)], 100)],
  ['layer norm as torch writes it at opset 13 (ReduceMean, Sub, Pow, Sqrt, Div)', () =>
    model(13, [
      node('ReduceMean', ['h'], 'mean', [axesAttr([-1]), keepdims]),
      node('Sub', ['h', 'mean'], 'centred'),
      node('Pow', ['centred', 'two'], 'sq'),
      node('ReduceMean', ['sq'], 'var', [axesAttr([-1]), keepdims]),
      node('Add', ['var', 'eps'], 'var_eps'),
      node('Sqrt', ['var_eps'], 'std'),
      node('Div', ['centred', 'std'], 'normed'),
      node('Mul', ['normed', 'gamma'], 'scaled'),
      node('Add', ['scaled', 'beta'], 'y'),
    ], [scalar('two', 2), scalar('eps', 1e-5), gamma([D], 6), beta([D], 7)], 0.5)],
  ['RMSNorm as torch writes it (Cast, Pow, ReduceMean, Sqrt, 1 / ·, Mul)', () =>
    model(17, [
      node('Cast', ['h'], 'hf', [{ name: 'to', type: 2, i: 1 }]),
      node('Pow', ['hf', 'two'], 'sq'),
      node('ReduceMean', ['sq'], 'ms', [axesAttr([-1]), keepdims]),
      node('Add', ['ms', 'eps'], 'ms_eps'),
      node('Sqrt', ['ms_eps'], 'rms'),
      node('Div', ['one', 'rms'], 'inv'),
      node('Mul', ['hf', 'inv'], 'normed'),
      node('Cast', ['normed'], 'normed_f', [{ name: 'to', type: 2, i: 1 }]),
      node('Mul', ['gamma', 'normed_f'], 'y'),
    ], [scalar('two', 2), scalar('one', 1), scalar('eps', 1e-6), gamma([D], 8)], 0.5)],
  ['RMSNorm with Reciprocal and ReduceMean axes as an input (opset 18)', () =>
    model(18, [
      node('Mul', ['h', 'h'], 'sq'),
      node('ReduceMean', ['sq', 'axes'], 'ms', [keepdims]),
      node('Add', ['ms', 'eps'], 'ms_eps'),
      node('Sqrt', ['ms_eps'], 'rms'),
      node('Reciprocal', ['rms'], 'inv'),
      node('Mul', ['h', 'inv'], 'normed'),
      node('Mul', ['normed', 'gamma'], 'y'),
    ], [ints('axes', [-1]), scalar('eps', 1e-6), gamma([D], 9)], 0.5)],
];

describe('normalizations in a TF.js GraphModel', () => {
  it.each(MODELS)('%s: loadGraphModel matches onnxruntime on the source', async (label, build) => {
    const bytes = build();
    const dir = join(root, label.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(dir);
    writeFileSync(join(dir, 'm.onnx'), bytes);
    const files = exportTfjs(readOnnxModel(join(dir, 'm.onnx'), bytes), join(dir, 'model.json'));
    for (const f of files.files) writeFileSync(join(dir, f.name), f.bytes);
    const shape = [3, T, D];
    const x = noise(3 * T * D, 21);
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const want = (await s.run({ x: new ort.Tensor('float32', x, shape) })).y!.data as Float32Array;
    await s.release();
    const rt = await openRuntime(join(dir, 'model.json'));
    expect(rt.runtime).toBe('tfjs');
    const [got] = await rt.run(x, shape);
    rt.dispose();
    // Normalized outputs are O(1): the rows must not collapse (a missing centring or scale would show).
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
    expect(maxRelError(got!, want)).toBeLessThanOrEqual(1e-4);
  });
});
