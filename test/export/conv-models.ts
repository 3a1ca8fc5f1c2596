// Small NCHW convolution models built with onnx-proto for the writer tests, and the comparison they
// share: a TFLite file run in LiteRT against onnxruntime on the float ONNX source.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { openLiteRt } from '../../src/runtime/litert.js';

const { onnx } = onnxProto;

/** A float32 value of shape [1, c, 8, 8]. */
export const nchw = (name: string, c: number) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: c }, { dimValue: 8 }, { dimValue: 8 }] } } } });

/** A float32 initializer. */
export const floats = (name: string, dims: number[], v: ArrayLike<number>) => ({ name, dataType: 1, dims, floatData: Array.from(v) });

/** A 3×3 convolution padded to keep 8×8 (bias optional). */
export const conv3x3 = (name: string, x: string, w: string, b: string | undefined, y: string) => ({
  opType: 'Conv',
  name,
  input: b ? [x, w, b] : [x, w],
  output: [y],
  attribute: [{ name: 'kernel_shape', type: 7, ints: [3, 3] }, { name: 'pads', type: 7, ints: [1, 1, 1, 1] }],
});

/** An opset-17 model of one graph taking 'x' [1, inC, 8, 8] to 'y' [1, outC, 8, 8]. */
export function convModel(name: string, inC: number, outC: number, initializer: object[], node: object[]): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name, input: [nchw('x', inC)], output: [nchw('y', outC)], initializer, node } }).finish();
}

/** onnxruntime's output 'y' for input 'x' of shape [1, c, 8, 8]. */
export async function ortOutput(bytes: Uint8Array, x: Float32Array, c: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const want = (await s.run({ x: new ort.Tensor('float32', x, [1, c, 8, 8]) })).y!.data as Float32Array;
  await s.release();
  return want;
}

/** Largest |LiteRT − onnxruntime| over the range of onnxruntime's output, for one [1, c, 8, 8] input. */
export async function worstOfRange(source: Uint8Array, tflite: Uint8Array, x: Float32Array, c: number): Promise<number> {
  const want = await ortOutput(source, x, c);
  const lrt = await openLiteRt(tflite, 'model.tflite');
  const [got] = await lrt.run([{ data: x, shape: [1, c, 8, 8] }]);
  lrt.dispose();
  const range = Math.max(...want) - Math.min(...want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got!.data as Float32Array)[i]! - want[i]!));
  return worst / range;
}
