// One interface over the runtimes that really run edgelm's artifacts: LiteRT for .tflite,
// onnxruntime for .onnx (onnxruntime-node or onnxruntime-web, see onnxruntime.ts), TF.js for TF.js
// models. Evaluation always goes through these.
import { EdgelmError } from '../errors.js';
import { detectFormat, type ModelFormat } from '../import/index.js';
import { readInputFile } from '../import/files.js';
import type { DType } from '../ir/dtype.js';
import { symbolicDim, unnamedDim, type Dim } from '../ir/dim.js';
import type { TfTensor } from '../ir/op.js';
import type { InputArray } from '../data/feeds.js';
import type { OrtBackend } from './onnxruntime.js';
import { packageVersion } from './package-version.js';
import type { Backend } from './tfjs/backend.js';

const staticOr = (d: Dim | undefined, dflt: number): number => (typeof d === 'number' ? d : dflt);

export interface RuntimeIO {
  name: string;
  shape: Dim[];
  dtype: DType | string;
}

export interface RuntimeSession {
  runtime: 'litert' | 'onnxruntime' | 'tfjs';
  /** Which build of the runtime, with its version: e.g. "onnxruntime-web 1.30.0 (CPU kernels in WebAssembly (SIMD))". */
  backend: string;
  format: ModelFormat;
  inputs: RuntimeIO[];
  outputs: RuntimeIO[];
  /** Largest batch the model accepts (TFLite files have a static batch). */
  maxBatch: number;
  /**
   * Runs one batch: `x` feeds the first input, `others` the rest by name (see data/feeds.ts); returns
   * every output (in `outputs` order), flattened, as float.
   */
  run(x: Float32Array | Int32Array, shape: number[], others?: readonly InputArray[]): Promise<Float32Array[]>;
  dispose(): void;
}

export interface OpenRuntimeOptions {
  /** TF.js backend for TF.js models. */
  backend?: Backend;
  /** onnxruntime build for .onnx files (default: onnxruntime-node when it loads, else onnxruntime-web). */
  onnxRuntime?: OrtBackend;
}

export async function openRuntime(path: string, opts: OpenRuntimeOptions = {}): Promise<RuntimeSession> {
  const { file, format } = detectFormat(path);
  if (format === 'tflite') return openLiteRtSession(file);
  if (format === 'onnx') return openOrtSession(file, opts.onnxRuntime);
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
  const outQuant = info.outputs.map((t) => info.tensors[t]?.quant);
  return {
    runtime: 'litert',
    backend: `@litertjs/core ${packageVersion('@litertjs/core') ?? '?'} (XNNPACK CPU kernels in WebAssembly)`,
    format: 'tflite',
    inputs: s.inputs,
    outputs: s.outputs,
    maxBatch: input.shape[0] ?? 1,
    async run(x, shape, others = []) {
      let want: Float32Array | Int32Array | Uint8Array;
      if (input.dtype === 'uint8' && inQuant) {
        const [sc, zp] = [inQuant.scale[0]!, inQuant.zeroPoint[0]!];
        want = Uint8Array.from(x, (v) => Math.max(0, Math.min(255, Math.round(v / sc) + zp)));
      } else want = input.dtype === 'int32' ? Int32Array.from(x) : x instanceof Float32Array ? x : Float32Array.from(x);
      const rest = s.inputs.slice(1).map((io) => {
        const a = others.find((o) => o.name === io.name);
        if (!a) throw new EdgelmError('input', `${file}: no data for input '${io.name}'`);
        return { data: io.dtype === 'int32' ? Int32Array.from(a.data) : Float32Array.from(a.data), shape: a.shape };
      });
      const outs = await s.run([{ data: want, shape }, ...rest]);
      return outs.map(({ data: d }, i) => {
        const q = outQuant[i];
        if (d instanceof Uint8Array && q) return Float32Array.from(d, (v) => q.scale[0]! * (v - q.zeroPoint[0]!));
        return d instanceof Float32Array ? d : Float32Array.from(d);
      });
    },
    dispose: () => s.dispose(),
  };
}

async function openOrtSession(file: string, prefer: OrtBackend | undefined): Promise<RuntimeSession> {
  const { loadOnnxRuntime, ortTensor } = await import('./onnxruntime.js');
  const runtime = await loadOnnxRuntime(prefer);
  const ort = runtime.api;
  let s: Awaited<ReturnType<typeof runtime.open>>;
  try {
    s = await runtime.open(file);
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
    backend: `${runtime.backend} ${runtime.version} (${runtime.kernels})`,
    format: 'onnx',
    inputs,
    outputs,
    maxBatch: staticOr(inputs[0]?.shape[0], Number.POSITIVE_INFINITY),
    async run(x, shape, others = []) {
      const feeds = { [inputs[0]!.name]: ortTensor(ort, String(inputs[0]!.dtype), x, shape) };
      for (const a of others) feeds[a.name] = ortTensor(ort, String(inputs.find((i) => i.name === a.name)?.dtype ?? 'float32'), a.data, a.shape);
      const out = await s.run(feeds);
      return s.outputNames.map((name) => {
        const y = out[name]!.data;
        return y instanceof Float32Array ? y : Float32Array.from(y as ArrayLike<number | bigint>, Number);
      });
    },
    dispose: () => void s.release(),
  };
}

/** What TF.js reports of a model input or output (-1 or null: a run-time dimension). */
interface TfModelIO {
  name: string;
  shape?: (number | null)[];
  dtype?: string;
}

async function openTfjsSession(file: string, format: ModelFormat, backend: Backend): Promise<RuntimeSession> {
  const { loadTf, loadTfModels } = await import('./tfjs/backend.js');
  const { fileLoader } = await import('./tfjs/io.js');
  const tf = await loadTf(backend);
  const { loadLayersModel, loadGraphModel } = await loadTfModels();
  // A LayersModel predicts, a GraphModel executes; both take one tensor and give one or more.
  let model: { inputs: TfModelIO[]; outputs: TfModelIO[]; dispose(): void };
  let forward: (x: TfTensor) => TfTensor | TfTensor[];
  if (format === 'tfjs-layers') {
    const m = await loadLayersModel(fileLoader(file));
    model = { inputs: m.inputs, outputs: m.outputs, dispose: () => m.dispose() };
    forward = (x) => m.predict(x) as TfTensor | TfTensor[];
  } else {
    const m = await loadGraphModel(fileLoader(file));
    model = { inputs: m.inputs, outputs: m.outputs, dispose: () => m.dispose() };
    forward = (x) => m.execute(x) as TfTensor | TfTensor[];
  }
  const io = (t: TfModelIO): RuntimeIO => ({ name: t.name, shape: (t.shape ?? []).map((d, k) => (d === -1 || d === null ? unnamedDim(t.name, k) : d)), dtype: t.dtype ?? 'float32' });
  const inputs = model.inputs.map(io);
  const outputs = model.outputs.map(io);
  return {
    runtime: 'tfjs',
    backend: `@tensorflow/tfjs-core ${packageVersion('@tensorflow/tfjs-core') ?? '?'} (backend ${tf.getBackend()})`,
    format,
    inputs,
    outputs,
    maxBatch: Number.POSITIVE_INFINITY,
    async run(x, shape, others = []) {
      if (others.length) throw new EdgelmError('unsupported', `${file}: edgelm runs TF.js models on one input; this one has ${inputs.length}`);
      const input = tf.tensor(x, shape, inputs[0]!.dtype === 'int32' ? 'int32' : 'float32');
      const raw = forward(input);
      const all = Array.isArray(raw) ? raw : [raw];
      const data = await Promise.all(all.map(async (t) => Float32Array.from((await t.data()) as ArrayLike<number>)));
      tf.dispose([input, ...all]);
      return data;
    },
    dispose: () => model.dispose(),
  };
}
