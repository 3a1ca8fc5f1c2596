// NaN and Inf are refused, naming the tensor: in weights (quantize) and in calibration data.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { encodeNpz } from '../../src/data/npz.js';
import { loadDataset } from '../../src/data/index.js';
import { cli, fixture, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const dir = tempDir();

describe('non-finite numbers', () => {
  it('a NaN weight: quantize exits 2 naming the tensor', () => {
    const m = onnx.ModelProto.decode(readFileSync(fixture('models', 'lenet-300-100.onnx')));
    const t = m.graph!.initializer!.find((i) => (i.rawData?.length ?? 0) > 1000)!;
    const raw = new Uint8Array(t.rawData!);
    new DataView(raw.buffer).setFloat32(8, Number.NaN, true);
    t.rawData = raw;
    const file = join(dir, 'nan.onnx');
    writeFileSync(file, onnx.ModelProto.encode(m).finish());
    for (const extra of [[], ['--stream']]) {
      const r = cli(['quantize', file, '-o', join(dir, 'nan-int8.onnx'), ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(t.name!);
      expect(r.stderr).toMatch(/NaN/);
      // Nothing half-written: no output and no temporary file (the streaming path writes as it goes).
      expect(readdirSync(dir).filter((f) => f.startsWith('nan-int8') || f.endsWith('.tmp'))).toEqual([]);
    }
  });

  it('Inf in calibration data: int8 quantization exits 2 naming the value', async () => {
    const ds = await loadDataset(fixture('data', 'mnist-test.npz'));
    const x = (ds.x as Float32Array).slice(0, 20 * 784);
    x[5 * 784 + 300] = Infinity;
    const file = join(dir, 'inf.npz');
    writeFileSync(file, encodeNpz({ x: { dtype: 'float32', shape: [20, 28, 28, 1], data: x }, y: { dtype: 'int32', shape: [20], data: ds.y!.slice(0, 20) } }));
    const r = cli(['quantize', fixture('models', 'cnn'), '-o', join(dir, 'inf.tflite'), '--mode', 'int8', '--calibration', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/calibration: value '\S+' is NaN or infinite/);
  });
});
