// One interface over the runtimes that really run edgelm's artifacts: LiteRT for .tflite,
// onnxruntime-node for .onnx, TF.js for TF.js models. Evaluation always goes through these.
import { EdgelmError } from '../errors.js';
import { detectFormat, type ModelFormat } from '../import/index.js';
import { readInputFile } from '../import/files.js';
import type { DType } from '../ir/dtype.js';
import { symbolicDim, unnamedDim, type Dim } from '../ir/dim.js';

const staticOr = (d: Dim | undefined, dflt: number): number => (typeof d === 'number' ? d : dflt);
import type { Backend } from './tfjs/backend.js';

export interface RuntimeIO {
  name: string;
  shape: Dim[];
  dtype: DType | string;
}

export interface RuntimeSession {
  runtime: 'litert' | 'onnxruntime' | 'tfjs';
  format: ModelFormat;
  inputs: RuntimeIO[];
  outputs: RuntimeIO[];
  /** Largest batch the model accepts (TFLite files have a static batch). */
  maxBatch: number;
  /** Runs one batch on the first input; returns the first output, flattened. */
  run(x: Float32Array | Int32Array, shape: number[]): Promise<Float32Array>;
  dispose(): void;
}

export async function openRuntime(path: string, opts: { backend?: Backend } = {}): Promise<RuntimeSession> {
  const { file, format } = detectFormat(path);
  if (format === 'tflite') return openLiteRtSession(file);
  if (format === 'onnx') return openOrtSession(file);
  return openTfjsSession(file, format, opts.backend ?? 'wasm');
}

async function openLiteRtSession(file: string): Promise<RuntimeSession> {
  const { openLiteRt } = await import('./litert.js');
  const { readTfliteInfo } = await import('../import/tflite/index.js');
  const s = await openLiteRt(readInputFile(file), file);
  const input = s.inputs[0]!;
  // uint8 inputs and outputs (integer-only models) carry scale and zero point in the flatbuffer.
  const info = readTfliteInfo(file);
  const inQuant = info.tensors[info.inputs[0]!]?.quant;
  const outQuant = info.tensors[info.outputs[0]!]?.quant;
  return {
    runtime: 'litert',
    format: 'tflite',
    inputs: s.inputs,
    outputs: s.outputs,
    maxBatch: input.shape[0] ?? 1,
    async run(x, shape) {
      let want: Float32Array | Int32Array | Uint8Array;
      if (input.dtype === 'uint8' && inQuant) {
        const [sc, zp] = [inQuant.scale[0]!, inQuant.zeroPoint[0]!];
        want = Uint8Array.from(x, (v) => Math.max(0, Math.min(255, Math.round(v / sc) + zp)));
      } else want = input.dtype === 'int32' ? Int32Array.from(x) : x instanceof Float32Array ? x : Float32Array.from(x);
      const [out] = await s.run([{ data: want, shape }]);
      const d = out!.data;
      if (d instanceof Uint8Array && outQuant) return Float32Array.from(d, (q) => outQuant.scale[0]! * (q - outQuant.zeroPoint[0]!));
      return d instanceof Float32Array ? d : Float32Array.from(d);
    },
    dispose: () => s.dispose(),
  };
}

async function openOrtSession(file: string): Promise<RuntimeSession> {
  const ort = await import('onnxruntime-node');
  let s: import('onnxruntime-node').InferenceSession;
  try {
    // Severity 3: errors only; onnxruntime's warnings about unused initializers are not the user's concern.
    s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  } catch (e) {
    throw new EdgelmError('input', `${file}: onnxruntime cannot load the model: ${(e as Error).message.split('\n')[0]}`);
  }
  const meta = (names: readonly string[], m: readonly unknown[] | undefined): RuntimeIO[] =>
    names.map((name, i) => {
      const info = m?.[i] as { shape?: (number | string)[]; type?: string } | undefined;
      return { name, shape: (info?.shape ?? []).map((d, k) => (typeof d === 'number' && d > 0 ? d : typeof d === 'string' && d ? symbolicDim(d) : unnamedDim(name, k))), dtype: info?.type ?? 'float32' };
    });
  const inputs = meta(s.inputNames, (s as unknown as { inputMetadata?: unknown[] }).inputMetadata);
  const outputs = meta(s.outputNames, (s as unknown as { outputMetadata?: unknown[] }).outputMetadata);
  return {
    runtime: 'onnxruntime',
    format: 'onnx',
    inputs,
    outputs,
    maxBatch: staticOr(inputs[0]?.shape[0], Number.POSITIVE_INFINITY),
    async run(x, shape) {
      const type = inputs[0]!.dtype;
      const t =
        type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), shape)
        : type === 'int32' ? new ort.Tensor('int32', Int32Array.from(x), shape)
        : new ort.Tensor('float32', x instanceof Float32Array ? x : Float32Array.from(x), shape);
      const out = await s.run({ [s.inputNames[0]!]: t });
      const y = out[s.outputNames[0]!]!;
      return y.data instanceof Float32Array ? y.data : Float32Array.from(y.data as ArrayLike<number>);
    },
    dispose: () => void s.release(),
  };
}

async function openTfjsSession(file: string, format: ModelFormat, backend: Backend): Promise<RuntimeSession> {
  const { loadTf } = await import('./tfjs/backend.js');
  const { fileLoader } = await import('./tfjs/io.js');
  const tf = await loadTf(backend);
  const tfjs = tf as unknown as typeof import('@tensorflow/tfjs');
  const model = format === 'tfjs-layers' ? await tfjs.loadLayersModel(fileLoader(file)) : await tfjs.loadGraphModel(fileLoader(file));
  const inputs: RuntimeIO[] = model.inputs.map((i) => ({ name: i.name, shape: (i.shape ?? []).map((d, k) => (d === -1 || d === null ? unnamedDim(i.name, k) : d)), dtype: i.dtype ?? 'float32' }));
  const outputs: RuntimeIO[] = model.outputs.map((o) => ({ name: o.name, shape: (o.shape ?? []).map((d, k) => (d === -1 || d === null ? unnamedDim(o.name, k) : d)), dtype: o.dtype ?? 'float32' }));
  return {
    runtime: 'tfjs',
    format,
    inputs,
    outputs,
    maxBatch: Number.POSITIVE_INFINITY,
    async run(x, shape) {
      const input = tfjs.tensor(x, shape, inputs[0]!.dtype === 'int32' ? 'int32' : 'float32');
      const raw = 'predict' in model && format === 'tfjs-layers' ? (model as import('@tensorflow/tfjs').LayersModel).predict(input) : (model as import('@tensorflow/tfjs').GraphModel).execute(input);
      const first = Array.isArray(raw) ? raw[0]! : raw;
      const data = (await first.data()) as Float32Array;
      tfjs.dispose([input, ...(Array.isArray(raw) ? raw : [raw])]);
      return data;
    },
    dispose: () => {
      if ('dispose' in model) (model as { dispose(): void }).dispose();
    },
  };
}
