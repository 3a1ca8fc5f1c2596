// `edgelm inspect` of quantized files shows what the file stores: a QDQ ONNX weight under its
// initializer's name and integer type (not the float32 DequantizeLinear output the reader folds it
// into), and TFLite scales and zero points, including the inputs and outputs of `--io int8` files.
// Checked against the files themselves (decoded with onnx-proto) and the quantization formula.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, fixture, tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const dir = tempDir();
const qdq = join(dir, 'cnn-qdq.onnx');
const io8 = join(dir, 'cnn-io8.tflite');

interface Quantization { scale: number[]; zeroPoint: number[]; bits: number; axis?: number }
interface Inspected {
  inputs: { name: string; dtype: string; quantization?: Quantization }[];
  outputs: { name: string; dtype: string; quantization?: Quantization }[];
  tensors: { name: string; irName?: string; dtype: string; bytes: number; quantization?: Quantization }[];
}

function inspect(file: string): { json: Inspected; text: string } {
  const j = cli(['inspect', file, '--json']);
  expect(j.code, j.stderr).toBe(0);
  const t = cli(['inspect', file]);
  expect(t.code, t.stderr).toBe(0);
  return { json: JSON.parse(j.stdout) as Inspected, text: t.stdout };
}

beforeAll(() => {
  const calibration = ['--calibration', fixture('data', 'mnist-train.npz')];
  for (const args of [[fixture('models', 'cnn-nchw.onnx'), '-o', qdq, '--mode', 'int8', ...calibration], [fixture('models', 'cnn'), '-o', io8, '--mode', 'int8', '--io', 'int8', ...calibration]]) {
    const r = cli(['quantize', ...args]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 300_000);

describe('inspect of a QDQ ONNX file', () => {
  it("shows each weight behind DequantizeLinear under its initializer's name and stored type, with the file's scales", () => {
    const model = onnx.ModelProto.decode(readFileSync(qdq));
    const inits = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    const typeName: Record<number, string> = { [onnx.TensorProto.DataType.INT8]: 'int8', [onnx.TensorProto.DataType.INT32]: 'int32', [onnx.TensorProto.DataType.UINT8]: 'uint8' };
    const stored = model.graph!.node!.filter((n) => n.opType === 'DequantizeLinear' && inits.has(n.input![0]!));
    expect(stored.length).toBe(10); // 5 weights and 5 biases
    const { json, text } = inspect(qdq);
    for (const n of stored) {
      const init = inits.get(n.input![0]!)!;
      const t = json.tensors.find((x) => x.name === init.name);
      expect(t, init.name!).toBeDefined();
      expect(t!.dtype).toBe(typeName[init.dataType!]);
      expect(t!.bytes).toBe(init.rawData!.length);
      const scale = inits.get(n.input![1]!)!;
      const want = [...new Float32Array(Uint8Array.from(scale.rawData!).buffer)];
      expect(t!.quantization!.scale).toEqual(want);
      expect(text).toMatch(new RegExp(`^${init.name!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s.*\\s${typeName[init.dataType!]}\\s+[\\d,]+\\s`, 'm'));
    }
    expect(json.tensors.filter((t) => t.name.startsWith('DequantizeLinear'))).toEqual([]);
  }, 60_000);
});

describe('inspect of a TFLite file with int8 inputs and outputs', () => {
  it('shows the input quantization of [0, 1] pixels, scale 1/255 and zero point −128, and the int8 output parameters', () => {
    const { json, text } = inspect(io8);
    const [input, output] = [json.inputs[0]!, json.outputs[0]!];
    expect(input.dtype).toBe('int8');
    // Asymmetric int8 over the calibration range [0, 1]: scale = (1 − 0) / 255, z = −128 − round(0 / scale).
    expect(input.quantization).toEqual({ scale: [Math.fround(1 / 255)], zeroPoint: [-128], bits: 8 });
    expect(output.dtype).toBe('int8');
    expect(output.quantization!.scale).toHaveLength(1);
    expect(output.quantization!.zeroPoint[0]).toBeGreaterThanOrEqual(-128);
    expect(output.quantization!.zeroPoint[0]).toBeLessThanOrEqual(127);
    expect(text).toMatch(/^input\s+conv1_input\s+\[1, 28, 28, 1\]\s+int8\s+scale 0\.003922, zero point -128$/m);
    expect(text).toMatch(new RegExp(`^output\\s+logits\\s+\\[1, 10\\]\\s+int8\\s+scale ${Number(output.quantization!.scale[0]!.toPrecision(4))}, zero point ${output.quantization!.zeroPoint[0]}$`, 'm'));
    // A per-channel conv kernel: the range of its scales, one zero point.
    const kernel = json.tensors.find((t) => t.name === 'conv1/kernel')!;
    const [lo, hi] = [Math.min(...kernel.quantization!.scale), Math.max(...kernel.quantization!.scale)].map((v) => Number(v.toPrecision(4)));
    expect(text).toMatch(new RegExp(`^conv1/kernel\\s.*int8\\s+144\\s+\\S+\\s+per-channel axis 0 ×16: scale ${lo}…${hi}, zero point 0$`, 'm'));
  }, 60_000);
});
