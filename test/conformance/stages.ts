// One case through every stage: onnxruntime on the source (the baseline), edgelm's import, its TF.js
// executor, its ONNX export in onnxruntime and its TFLite export in LiteRT. Each stage ends in one outcome.
import * as ort from 'onnxruntime-node';
import { EdgelmError } from '../../src/errors.js';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Tf, TfTensor } from '../../src/ir/op.js';
import { openLiteRt, type LiteRtArray } from '../../src/runtime/litert.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import type { Case, CaseTensor } from './cases.js';
import { FLOAT_TYPES, mismatch, numbers, type Got } from './compare.js';

export const STAGES = ['import', 'executor', 'onnx', 'tflite'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * pass; refused (EdgelmError 'unsupported', one line); fail (a wrong number, a crash, any other error,
 * a file the runtime will not load or run); na: TFLite for a case whose inputs or outputs are types
 * LiteRT's JS API cannot pass.
 */
export type Outcome = 'pass' | 'refused' | 'fail' | 'na';
export interface StageResult {
  outcome: Outcome;
  detail?: string;
}
export type CaseResult = { baseline: 'pass' | 'fail'; baselineDetail?: string } & Partial<Record<Stage, StageResult>>;

const oneLine = (s: string): string => s.split('\n')[0]!.slice(0, 300);

/** Classifies a thrown error: a one-line 'unsupported' EdgelmError is a refusal, anything else fails. */
function fromError(e: unknown): StageResult {
  if (e instanceof EdgelmError && e.code === 'unsupported' && !e.message.includes('\n')) return { outcome: 'refused', detail: e.message };
  if (e instanceof EdgelmError) return { outcome: 'fail', detail: `EdgelmError(${e.code}): ${oneLine(e.message)}` };
  return { outcome: 'fail', detail: `crash: ${oneLine(String((e as Error)?.stack ?? e))}` };
}

function compareAll(got: Got[], want: readonly CaseTensor[]): StageResult {
  if (got.length !== want.length) return { outcome: 'fail', detail: `${got.length} outputs, expected ${want.length}` };
  for (let i = 0; i < want.length; i++) {
    const m = mismatch(got[i]!, want[i]!);
    if (m) return { outcome: 'fail', detail: `output ${i}: ${m}` };
  }
  return { outcome: 'pass' };
}

/** A case tensor converted to another onnxruntime type (an export may declare float32 for a float16 input). */
function ortTensor(t: CaseTensor, type: string = t.type): ort.Tensor {
  if (type === t.type) return new ort.Tensor(type as 'float32', t.data as Float32Array, t.dims);
  const v = numbers(t);
  const data =
    type === 'float32' ? Float32Array.from(v)
    : type === 'float64' ? Float64Array.from(v)
    : type === 'int64' ? BigInt64Array.from(v, (x) => BigInt(Math.trunc(x)))
    : type === 'int32' ? Int32Array.from(v)
    : type === 'uint8' || type === 'bool' ? Uint8Array.from(v)
    : type === 'int8' ? Int8Array.from(v)
    : undefined;
  if (!data) throw new Error(`cannot convert a ${t.type} input to ${type}`);
  return new ort.Tensor(type as 'float32', data as Float32Array, t.dims);
}

const ortGot = (t: ort.Tensor): Got => ({
  dims: t.dims,
  values: t.type === 'float16' ? numbers({ name: '', type: 'float16', dims: [...t.dims], data: t.data as Uint16Array }) : (t.data as ArrayLike<number>),
});

async function runOrt(model: Uint8Array, inputs: readonly CaseTensor[]): Promise<{ outputs?: Got[]; loadError?: string }> {
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(model, { logSeverityLevel: 4 });
  } catch (e) {
    return { loadError: oneLine((e as Error).message) };
  }
  try {
    const feeds: Record<string, ort.Tensor> = {};
    const meta = s.inputMetadata;
    s.inputNames.forEach((name, i) => {
      const t = inputs.find((x) => x.name === name) ?? inputs[i];
      if (!t) throw new Error(`no data for input ${name}`);
      const m = meta[i];
      feeds[name] = ortTensor(t, m && m.isTensor ? m.type : t.type);
    });
    const out = await s.run(feeds);
    return { outputs: s.outputNames.map((n) => ortGot(out[n]!)) };
  } finally {
    await s.release();
  }
}

/** onnxruntime on the source file: a case it fails is not counted. */
export async function baseline(c: Case): Promise<{ ok: boolean; detail?: string }> {
  try {
    const r = await runOrt(c.bytes, c.inputs);
    if (r.loadError) return { ok: false, detail: `load: ${r.loadError}` };
    const cmp = compareAll(r.outputs!, c.outputs);
    return cmp.outcome === 'pass' ? { ok: true } : { ok: false, detail: cmp.detail };
  } catch (e) {
    return { ok: false, detail: oneLine((e as Error).message) };
  }
}

/** A case input as a TF.js tensor in the dtype TF.js computes it in (halfs and doubles as float32, integers as int32). */
function tfInput(tf: Tf, t: CaseTensor): TfTensor {
  const v = numbers(t);
  if (FLOAT_TYPES.has(t.type)) return tf.tensor(Float32Array.from(v), t.dims, 'float32');
  if (t.type === 'bool') return tf.tensor(Uint8Array.from(v), t.dims, 'bool');
  return tf.tensor(Int32Array.from(v), t.dims, 'int32');
}

function runExecutor(tf: Tf, graph: Graph, c: Case): StageResult {
  const ex = new GraphExecutor(tf, graph);
  const feeds: Record<string, TfTensor> = {};
  try {
    graph.inputs.forEach((inp, i) => {
      const t = c.inputs.find((x) => x.name === inp.name) ?? c.inputs[i];
      if (t) feeds[inp.name] = tfInput(tf, t);
    });
    const outs = ex.run(feeds);
    const got = outs.map((o) => ({ dims: o.shape, values: o.dataSync() as ArrayLike<number> }));
    tf.dispose(outs);
    return compareAll(got, c.outputs);
  } finally {
    tf.dispose(Object.values(feeds));
    ex.dispose();
  }
}

async function runOnnxExport(graph: Graph, c: Case): Promise<StageResult> {
  const { model } = exportOnnx(graph, `${c.id}.onnx`);
  const r = await runOrt(model, c.inputs);
  if (r.loadError) return { outcome: 'fail', detail: `onnxruntime refuses the file: ${r.loadError}` };
  return compareAll(r.outputs!, c.outputs);
}

/** The types LiteRT's JS API passes in and out. */
const LITERT_TYPES = new Set(['float32', 'int32', 'uint8']);
const LITERT_OF_CASE: Record<string, string> = { float32: 'float32', int32: 'int32', int64: 'int32', uint8: 'uint8' };

/** Whether a case's inputs and outputs can cross LiteRT's JS API (int64 becomes int32 in edgelm's TFLite). */
export const litertCanPass = (c: Case): boolean => [...c.inputs, ...c.outputs].every((t) => t.type in LITERT_OF_CASE);

async function runTfliteExport(graph: Graph, c: Case): Promise<StageResult> {
  const batchSize = c.inputs[0]?.dims[0] ?? 1;
  const bytes = exportTflite(graph, `${c.id}.tflite`, { batchSize });
  let s: Awaited<ReturnType<typeof openLiteRt>>;
  try {
    s = await openLiteRt(bytes, `${c.id}.tflite`);
  } catch (e) {
    return { outcome: 'fail', detail: `LiteRT refuses the file: ${oneLine((e as Error).message)}` };
  }
  try {
    const types = [...s.inputs, ...s.outputs].map((t) => t.dtype);
    if (!types.every((t) => LITERT_TYPES.has(t))) return { outcome: 'fail', detail: `the file's inputs/outputs are ${types.join(', ')}; the source's cross LiteRT's JS API` };
    const feeds = s.inputs.map((inp, i) => {
      const t = c.inputs.find((x) => x.name === inp.name) ?? c.inputs[i];
      if (!t) throw new Error(`no data for TFLite input ${inp.name}`);
      const v = numbers(t);
      const data: LiteRtArray = inp.dtype === 'float32' ? Float32Array.from(v) : inp.dtype === 'int32' ? Int32Array.from(v) : Uint8Array.from(v);
      return { data, shape: [...t.dims] };
    });
    let outs: Awaited<ReturnType<typeof s.run>>;
    try {
      outs = await s.run(feeds);
    } catch (e) {
      return { outcome: 'fail', detail: `LiteRT cannot run the file: ${oneLine((e as Error).message)}` };
    }
    return compareAll(outs.map((o) => ({ dims: o.shape, values: o.data })), c.outputs);
  } finally {
    s.dispose();
  }
}

/** Runs a case whose baseline passed through edgelm's stages. */
export async function runStages(tf: Tf, c: Case): Promise<Record<Stage, StageResult>> {
  let graph: Graph;
  try {
    graph = readOnnxModel(c.model, c.bytes);
  } catch (e) {
    const r = fromError(e);
    // Later stages share the import's outcome: nothing to run without a graph.
    const after: StageResult = { outcome: r.outcome, detail: 'import' };
    return { import: r, executor: after, onnx: after, tflite: litertCanPass(c) ? after : { outcome: 'na' } };
  }
  const guard = async (f: () => StageResult | Promise<StageResult>): Promise<StageResult> => {
    try {
      return await f();
    } catch (e) {
      return fromError(e);
    }
  };
  return {
    import: { outcome: 'pass' },
    executor: await guard(() => runExecutor(tf, graph, c)),
    onnx: await guard(() => runOnnxExport(graph, c)),
    tflite: litertCanPass(c) ? await guard(() => runTfliteExport(graph, c)) : { outcome: 'na', detail: 'types LiteRT JS cannot pass' },
  };
}
