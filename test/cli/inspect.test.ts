// `edgelm inspect`: exact parameter counts, one clean JSON document, I/O, op histogram, sparsity, table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fixture, tempDir } from '../helpers.js';

interface InspectJson {
  file: string;
  format: string;
  inputs: { name: string; shape: (number | null)[]; dtype: string }[];
  outputs: { name: string; shape: (number | null)[]; dtype: string }[];
  ops: Record<string, number>;
  params: number;
  tensors: { name: string; shape: number[]; dtype: string; sparsity: number }[];
}

function inspect(model: string): InspectJson {
  const r = cli(['inspect', model, '--json']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as InspectJson; // the whole stdout is one JSON document
}

/** Parameter count from a GraphModel's weights manifest: float32 entries only (int32 constants are not parameters). */
function manifestParams(dir: string): number {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: { weights: { name: string; shape: number[]; dtype: string }[] }[];
  };
  let n = 0;
  for (const group of json.weightsManifest)
    for (const w of group.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      // One-element constants (an ε, clip bounds, a scale factor) are no parameters, as in PyTorch's count.
      if (w.dtype === 'float32' && size > 1) n += size;
    }
  return n;
}

describe('edgelm inspect --json: exact parameter counts', () => {
  it.each([
    ['lenet-300-100.onnx', 266610],
    ['mlp', 266610],
    ['cnn', 101994],
    ['cnn-nchw.onnx', 101994],
    // PyTorch's own count (sum of numel over parameters: no mask buffer, no scalar constants).
    [join('..', 'lm', 'char-transformer.onnx'), 417585],
  ])('%s has %i params', (model, params) => {
    expect(inspect(fixture('models', model)).params).toBe(params);
  }, 60_000);

  it.each([['graph-cnn'], ['graph-cnn-f16'], ['graph-cnn-u8']])('%s: params equal the float32 tensors of its weights manifest, one-element constants aside', (model) => {
    const dir = fixture('models', model);
    const want = manifestParams(dir);
    expect(want).toBeGreaterThan(0);
    expect(inspect(dir).params).toBe(want);
  }, 60_000);
});

describe('edgelm inspect --json: report contents', () => {
  it('stdout is exactly one JSON document and stderr is empty', () => {
    for (const model of ['lenet-300-100.onnx', 'mlp', 'graph-cnn']) {
      const r = cli(['inspect', fixture('models', model), '--json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(() => JSON.parse(r.stdout)).not.toThrow();
      expect(typeof JSON.parse(r.stdout)).toBe('object');
    }
  }, 60_000);

  it('lists inputs and outputs with names and shapes', () => {
    const r = inspect(fixture('models', 'lenet-300-100.onnx'));
    expect(r.inputs).toHaveLength(1);
    expect(r.inputs[0]!.name).toBe('input.1');
    expect(r.inputs[0]!.shape.slice(1)).toEqual([1, 28, 28]);
    expect(r.outputs).toHaveLength(1);
    expect(r.outputs[0]!.name).toBeTruthy();
    expect(r.outputs[0]!.shape.at(-1)).toBe(10);
    const g = inspect(fixture('models', 'graph-cnn'));
    expect(g.inputs[0]!.shape.slice(1)).toEqual([28, 28, 1]);
    expect(g.outputs.length).toBeGreaterThanOrEqual(2);
    expect(g.outputs[0]!.shape.at(-1)).toBe(10);
    for (const io of [...g.inputs, ...g.outputs]) expect(io.name).toBeTruthy();
  }, 60_000);

  it('has an op histogram: graph-cnn contains conv2d, depthwiseConv2d, prelu, slice, concat', () => {
    const { ops } = inspect(fixture('models', 'graph-cnn'));
    for (const op of ['conv2d', 'depthwiseConv2d', 'prelu', 'slice', 'concat']) expect(ops[op], op).toBeGreaterThanOrEqual(1);
    for (const n of Object.values(ops)) expect(Number.isInteger(n) && n > 0).toBe(true);
    expect(inspect(fixture('models', 'lenet-300-100.onnx')).ops.dense).toBe(3);
  }, 60_000);

  it('reports per-tensor sparsity in [0, 1]', () => {
    for (const model of ['lenet-300-100.onnx', 'cnn', 'graph-cnn-u8']) {
      const { tensors } = inspect(fixture('models', model));
      expect(tensors.length).toBeGreaterThan(0);
      for (const t of tensors) {
        expect(typeof t.sparsity, t.name).toBe('number');
        expect(t.sparsity, t.name).toBeGreaterThanOrEqual(0);
        expect(t.sparsity, t.name).toBeLessThanOrEqual(1);
      }
    }
  }, 60_000);

  it('inspects an exported .tflite: 266610 params and 3 FULLY_CONNECTED ops', () => {
    const path = join(tempDir(), 'mlp.tflite');
    const e = cli(['export', fixture('models', 'mlp'), '-o', path]);
    expect(e.code, e.stderr).toBe(0);
    const r = inspect(path);
    expect(r.params).toBe(266610);
    expect(r.ops.FULLY_CONNECTED).toBe(3);
  }, 120_000);
});

describe('edgelm inspect without --json', () => {
  it('prints a readable table on a non-TTY, without ANSI escape codes', () => {
    const r = cli(['inspect', fixture('models', 'lenet-300-100.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('params');
    expect(r.stdout).toContain('input.1');
    expect(r.stdout).not.toMatch(/\u001b\[/);
    expect(r.stderr).not.toMatch(/\u001b\[/);
  }, 60_000);
});
