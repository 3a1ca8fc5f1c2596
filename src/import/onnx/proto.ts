// ONNX protobuf access: decoding, tensor data (inline, raw and external), attributes.
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type * as P from 'onnx-proto';

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
const { onnx } = onnxProto;
import { EdgelmError, inputError } from '../../errors.js';
import { DTYPES, dtypeFromOnnx, type DType, type TypedArray } from '../../ir/dtype.js';
import { lazyTensor } from '../../ir/lazy-data.js';
import { sizeOf, type Tensor } from '../../ir/tensor.js';
import { resolveInside } from '../files.js';
import { decodeModelLazily } from './scan.js';

export type ModelProto = P.onnx.ModelProto;
export type NodeProto = P.onnx.INodeProto;
export type TensorProto = P.onnx.ITensorProto;

interface LongLike {
  toNumber(): number;
}
/** protobufjs gives int64 as a number or a Long depending on the installed packages. */
export function num(v: number | LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function decodeModel(file: string, bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw inputError(file, `not a valid ONNX model (protobuf decoding failed: ${(e as Error).message.split('\n')[0]})`);
  }
  if (!model.graph) throw inputError(file, 'ONNX model has no graph');
  return model;
}

/**
 * Where an external-data tensor's `length` bytes lie, the range checked against the file; `read`
 * reads them (or those from byte `at` on) into a buffer.
 */
function externalRange(modelFile: string, tensor: string, entries: Record<string, string>, expected: number): { length: number; read(into: Uint8Array, at?: number): void } {
  const location = entries.location;
  if (location === undefined) throw inputError(modelFile, `tensor '${tensor}': external data without a location`);
  const path = resolveInside(modelFile, location, `tensor '${tensor}' external data location`);
  const offset = entries.offset === undefined ? 0 : Number(entries.offset);
  const length = entries.length === undefined ? expected : Number(entries.length);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
    throw inputError(modelFile, `tensor '${tensor}': invalid external data offset/length`);
  if (length !== expected) throw inputError(modelFile, `tensor '${tensor}': external data length ${length} but its shape needs ${expected} bytes`);
  const withFile = <T>(f: (fd: number) => T): T => {
    const fd = openSync(path, 'r');
    try {
      return f(fd);
    } finally {
      closeSync(fd);
    }
  };
  withFile((fd) => {
    const size = fstatSync(fd).size;
    if (offset + length > size) throw inputError(modelFile, `tensor '${tensor}': external data ${location} holds ${size} bytes, needs ${offset + length}`);
  });
  /** into.length bytes from byte `at` of the tensor. */
  const read = (buf: Uint8Array, at = 0): void =>
    withFile((fd) => {
      if (at + buf.length > length) throw new Error(`tensor '${tensor}': read past its ${length} bytes`);
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, offset + at + done);
        if (n <= 0) throw inputError(modelFile, `tensor '${tensor}': external data ${location} ended early`);
        done += n;
      }
    });
  return { length, read };
}

/** External data at least this large stays in its file until read (see src/ir/lazy-data.ts). */
const LAZY_BYTES = 1 << 20;

const ONNX_TYPE_NAMES: Record<number, string> = { 8: 'string', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };
export const onnxTypeName = (code: number): string => ONNX_TYPE_NAMES[code] ?? `#${code}`;

/** Why edgelm has no dtype for an ONNX type, where there is one reason to give. */
export const missingTypeReason = (code: number): string =>
  code === 12 || code === 13 ? " (edgelm's IR has no unsigned 32/64-bit integers: its TF.js executor computes integers in int32, which cannot hold them exactly)" : '';

/** Decodes an ONNX TensorProto into an IR Tensor, validating sizes before allocating. */
export function tensorFromProto(modelFile: string, t: TensorProto, name = t.name ?? ''): Tensor {
  const dtype: DType | undefined = dtypeFromOnnx(t.dataType ?? 0);
  if (!dtype) {
    // Valid ONNX types edgelm has no dtype for (string, uint32, uint64, complex, bfloat16, float8) are a limit of edgelm's.
    const known = (t.dataType ?? 0) > 0 && (t.dataType ?? 0) <= 23;
    if (known) throw new EdgelmError('unsupported', `${modelFile}: tensor '${name}': ONNX data type ${t.dataType} (${onnxTypeName(t.dataType ?? 0)}) is not supported${missingTypeReason(t.dataType ?? 0)}`);
    throw inputError(modelFile, `tensor '${name}': unknown ONNX data type ${t.dataType}`);
  }
  const shape = (t.dims ?? []).map(num);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw inputError(modelFile, `tensor '${name}': invalid dims [${shape}]`);
  const n = sizeOf(shape);
  if (!Number.isFinite(n)) throw inputError(modelFile, `tensor '${name}': dims [${shape}] overflow`);
  const info = DTYPES[dtype];
  const byteLength = n * info.bytes;
  let raw: Uint8Array | undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entries = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const ext = externalRange(modelFile, name, entries, byteLength);
    if (byteLength >= LAZY_BYTES) return lazyTensor(name, dtype, shape, n, ext.read);
    raw = new Uint8Array(byteLength);
    ext.read(raw);
  } else if (t.rawData && t.rawData.length) {
    raw = t.rawData;
  }
  const Ctor = info.array as unknown as { new (n: number): TypedArray; new (b: ArrayBuffer, o: number, n: number): TypedArray };
  if (raw) {
    if (raw.length !== byteLength) throw inputError(modelFile, `tensor '${name}': raw data has ${raw.length} bytes, shape [${shape}] of ${dtype} needs ${byteLength}`);
    // raw_data (a view into the model's bytes) and external data are used in place when aligned for the
    // element type, so a 500 MB model's weights are not copied; else copied. Tensors are never written in place.
    if (raw.byteOffset % info.bytes === 0) return { name, dtype, shape, data: new Ctor(raw.buffer as ArrayBuffer, raw.byteOffset, n) };
    return { name, dtype, shape, data: new Ctor(new Uint8Array(raw).buffer, 0, n) };
  }
  const typed = typedField(t, dtype);
  if (typed.length !== n) throw inputError(modelFile, `tensor '${name}': holds ${typed.length} values, shape [${shape}] needs ${n}`);
  const data = new Ctor(n);
  if (data instanceof BigInt64Array) typed.forEach((v, i) => (data[i] = BigInt(v)));
  else typed.forEach((v, i) => ((data as Float32Array)[i] = v));
  return { name, dtype, shape, data };
}

function typedField(t: TensorProto, dtype: DType): number[] {
  switch (dtype) {
    case 'float32':
      return t.floatData ?? [];
    case 'float64':
      return t.doubleData ?? [];
    case 'int64':
      return (t.int64Data ?? []).map(num);
    default:
      // int32, int16, int8, uint8, uint16, bool and float16 (as bits) live in int32_data.
      return t.int32Data ?? [];
  }
}

/** A STRINGS attribute (the recurrences' activations), boxed so that arrays stay number lists. */
export interface StringList {
  strings: string[];
}
export type AttrValue = number | number[] | string | StringList | Tensor | undefined;

/** Attributes of a node by name, decoded to plain values. */
export function attributes(modelFile: string, node: NodeProto): Map<string, AttrValue> {
  const m = new Map<string, AttrValue>();
  const T = onnx.AttributeProto.AttributeType;
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    switch (a.type) {
      case T.FLOAT:
        m.set(name, a.f ?? 0);
        break;
      case T.INT:
        m.set(name, num(a.i));
        break;
      case T.STRING:
        m.set(name, new TextDecoder().decode(a.s ?? new Uint8Array()));
        break;
      case T.STRINGS:
        // The recurrences' activations list.
        m.set(name, { strings: (a.strings ?? []).map((s) => new TextDecoder().decode(s)) });
        break;
      case T.FLOATS:
        m.set(name, a.floats ?? []);
        break;
      case T.INTS:
        m.set(name, (a.ints ?? []).map(num));
        break;
      case T.TENSOR:
        if (a.t) m.set(name, tensorFromProto(modelFile, a.t, `${node.name ?? node.opType}.${name}`));
        break;
      default:
        // Graph, sparse and type attributes: not used by the ops edgelm supports.
        m.set(name, undefined);
    }
  }
  return m;
}

/** External data files per model file version: decoding a large model twice just to list them is costly. */
const externalCache = new Map<string, string[]>();
const versionKey = (file: string): string => {
  const st = fstatLike(file);
  return `${file}|${st.size}|${st.mtimeMs}`;
};
function fstatLike(file: string): { size: number; mtimeMs: number } {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The external data files a decoded model's initializers refer to (resolved inside its folder). */
export function rememberExternalFiles(modelFile: string, model: ModelProto): string[] {
  const files = new Set<string>();
  // A lazily decoded model refers to its own file for inline weights: no external file.
  const self = realpathSync(modelFile);
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    const path = location && resolveInside(modelFile, location, `external data of tensor '${t.name}'`);
    if (path && path !== self) files.add(path);
  }
  externalCache.set(versionKey(modelFile), [...files]);
  return [...files];
}

/** The external data files an ONNX model refers to (decoded once per file version). */
export function externalDataFiles(modelFile: string): string[] {
  const known = externalCache.get(versionKey(modelFile));
  if (known) return known;
  // Decoded without its weights (they stay in the file): listing a model's files usually comes right
  // before loading it, which takes this decoded model over.
  const model = decodeModelLazily(modelFile);
  lastDecoded = { key: versionKey(modelFile), model };
  return rememberExternalFiles(modelFile, model);
}

let lastDecoded: { key: string; model: ModelProto } | undefined;

/** The model decoded by the last externalDataFiles call for this file version, handed over once. */
export function takeDecoded(modelFile: string): ModelProto | undefined {
  const kept = lastDecoded;
  lastDecoded = undefined;
  return kept && kept.key === versionKey(modelFile) ? kept.model : undefined;
}
