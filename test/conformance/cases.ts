// The ONNX backend test cases (ONNX 1.12, Debian's libonnx-testdata): each a folder with model.onnx and
// test_data_set_*/input_*.pb, output_*.pb. This module finds them, keeps the inference cases and decodes
// their tensors with its own small TensorProto reader, independent of edgelm's.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Where Debian's libonnx-testdata puts the cases; EDGELM_ONNX_TESTDATA points elsewhere (another copy, or none). */
export const DATA_DIR = process.env.EDGELM_ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
export const FOLDERS = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;

/** A tensor of a case, in the types onnxruntime-node takes (ort's names). */
export interface CaseTensor {
  name: string;
  /** onnxruntime's type name: float32, float16, float64, int8 … int64, uint8 … uint64, bool. */
  type: string;
  dims: number[];
  data: Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
}

export interface Case {
  /** folder/name, e.g. node/test_abs; `folder/name#const` for the variant with inputs 2… as initializers. */
  id: string;
  /** The model file (for messages) and its bytes. */
  model: string;
  bytes: Uint8Array;
  inputs: CaseTensor[];
  outputs: CaseTensor[];
}

/** ONNX TensorProto.DataType → onnxruntime type and typed array (onnx/onnx.proto3). Strings, complex and bfloat16 are absent. */
const TYPES: Record<number, { type: string; array: { new (b: ArrayBuffer, o: number, n: number): CaseTensor['data']; new (n: number): CaseTensor['data']; BYTES_PER_ELEMENT: number } }> = {
  1: { type: 'float32', array: Float32Array },
  2: { type: 'uint8', array: Uint8Array },
  3: { type: 'int8', array: Int8Array },
  4: { type: 'uint16', array: Uint16Array },
  5: { type: 'int16', array: Int16Array },
  6: { type: 'int32', array: Int32Array },
  7: { type: 'int64', array: BigInt64Array },
  9: { type: 'bool', array: Uint8Array },
  10: { type: 'float16', array: Uint16Array },
  11: { type: 'float64', array: Float64Array },
  12: { type: 'uint32', array: Uint32Array },
  13: { type: 'uint64', array: BigUint64Array },
};

const long = (v: unknown): number => (typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber());

/** Decodes a TensorProto (.pb file); undefined for element types onnxruntime-node cannot take (string, bfloat16, …). */
export function decodeTensor(bytes: Uint8Array): CaseTensor | undefined {
  return fromProto(onnx.TensorProto.decode(bytes));
}

function fromProto(t: onnxProto.onnx.TensorProto): CaseTensor | undefined {
  const info = TYPES[t.dataType ?? 0];
  if (!info) return undefined;
  const dims = (t.dims ?? []).map(long);
  const n = dims.reduce((a, b) => a * b, 1);
  let data: CaseTensor['data'];
  if (t.rawData && t.rawData.length) {
    data = new info.array(new Uint8Array(t.rawData).buffer, 0, n); // copied: aligned and owned
  } else {
    data = new info.array(n);
    const field: unknown[] =
      info.type === 'float32' ? t.floatData
      : info.type === 'float64' ? t.doubleData
      : info.type === 'int64' ? t.int64Data
      : info.type === 'uint32' || info.type === 'uint64' ? t.uint64Data
      : t.int32Data; // the smaller integers, bool and float16 bits
    field.forEach((v, i) => {
      if (data instanceof BigInt64Array) data[i] = BigInt(long(v));
      else if (data instanceof BigUint64Array) data[i] = BigInt(long(v));
      else (data as Float32Array)[i] = long(v);
    });
  }
  return { name: t.name ?? '', type: info.type, dims, data };
}

/**
 * Ops outside inference as the issue scopes it: control flow, sequences and optionals, strings,
 * training, randomness, signal windows and transforms, and a few detection/linear-algebra ops.
 */
const EXCLUDED_OPS = new Set([
  'If', 'Loop', 'Scan', 'DFT', 'STFT', 'HannWindow', 'HammingWindow', 'BlackmanWindow', 'MelWeightMatrix',
  'RoiAlign', 'NonMaxSuppression', 'Unique', 'Det', 'TfIdfVectorizer', 'GridSample', 'StringNormalizer',
  'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli',
  'Optional', 'OptionalGetElement', 'OptionalHasElement', 'SplitToSequence', 'ConcatFromSequence',
  'SequenceAt', 'SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength', 'SequenceMap',
]);
const TRAINING_DOMAIN = 'ai.onnx.preview.training';

/** Why a case is out of scope, or undefined when it is an inference case. */
export function outOfScope(model: Uint8Array): string | undefined {
  const m = onnx.ModelProto.decode(model);
  const g = m.graph;
  if (!g) return 'no graph';
  for (const n of g.node ?? []) {
    if (n.domain === TRAINING_DOMAIN) return `training op ${n.opType}`;
    if (EXCLUDED_OPS.has(n.opType ?? '')) return `op ${n.opType}`;
  }
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) {
    const tt = v.type?.tensorType;
    if (!tt) return `non-tensor value ${v.name}`;
    if (tt.elemType === 8) return `string value ${v.name}`;
  }
  return undefined;
}

/** Whether libonnx-testdata is installed. */
export function suiteInstalled(): boolean {
  return existsSync(join(DATA_DIR, 'node'));
}

/** Every case folder of the four suites, in a stable order. */
export function caseIds(): string[] {
  return FOLDERS.flatMap((f) => {
    const dir = join(DATA_DIR, f);
    return existsSync(dir) ? readdirSync(dir).sort().map((c) => `${f}/${c}`) : [];
  });
}

/**
 * The case with every input but the first turned into an initializer holding the case's data: weights,
 * pads, shapes and bounds arrive as graph inputs in the suite, but as constants in real models, where
 * writers take other paths. Undefined for single-input cases.
 */
export function withConstantInputs(c: Case, protos: readonly onnxProto.onnx.TensorProto[]): Case | undefined {
  const m = onnx.ModelProto.decode(c.bytes);
  const g = m.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name));
  if (inputs.length < 2 || protos.length !== inputs.length) return undefined;
  const frozen = new Set(inputs.slice(1).map((v) => v.name));
  g.input = (g.input ?? []).filter((v) => !frozen.has(v.name));
  g.initializer = [...(g.initializer ?? []), ...inputs.slice(1).map((v, i) => onnx.TensorProto.create({ ...protos[i + 1]!, name: v.name }))];
  return { ...c, id: `${c.id}#const`, bytes: onnx.ModelProto.encode(m).finish(), inputs: c.inputs.slice(0, 1) };
}

/** Loads a case's model and its first test data set (and its #const variant); a reason when out of scope or holding types ort cannot take. */
export function loadCase(id: string): { cases?: Case[]; skip?: string } {
  const dir = join(DATA_DIR, id);
  const modelPath = join(dir, 'model.onnx');
  if (!existsSync(modelPath)) return { skip: 'no model.onnx' };
  const bytes = readFileSync(modelPath);
  const why = outOfScope(bytes);
  if (why) return { skip: why };
  const set = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort()[0];
  if (!set) return { skip: 'no test data' };
  const read = (prefix: string): onnxProto.onnx.TensorProto[] =>
    readdirSync(join(dir, set))
      .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
      .map((f) => onnx.TensorProto.decode(readFileSync(join(dir, set, f))));
  const protos = read('input_');
  const inputs = protos.map(fromProto);
  const outputs = read('output_').map(fromProto);
  if ([...inputs, ...outputs].some((t) => t === undefined)) return { skip: 'a tensor type onnxruntime-node cannot pass' };
  const c: Case = { id, model: modelPath, bytes, inputs: inputs as CaseTensor[], outputs: outputs as CaseTensor[] };
  const frozen = withConstantInputs(c, protos);
  return { cases: frozen ? [c, frozen] : [c] };
}
