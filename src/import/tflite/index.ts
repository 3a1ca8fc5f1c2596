// Reads a TFLite flatbuffer's structure (tensors, quantization, buffers, operators) with every offset
// bounds-checked: a corrupt or hostile file gets a clear error, never an out-of-range read.
import { inputError } from '../../errors.js';
import { DTYPES, dtypeFromTflite, type DType } from '../../ir/dtype.js';
import { sizeOf } from '../../ir/tensor.js';
import { OP, OP_NAMES, SLOT } from '../../export/tflite/schema.js';
import { readInputFile } from '../files.js';
import { readSparsity, type TfliteSparsity } from './sparsity.js';

export interface TfliteTensorInfo {
  name: string;
  shape: number[];
  /** IR dtype, or `tflite:<code>` for types edgelm does not model. */
  dtype: DType | string;
  /** Constant data (empty for activations). */
  data: Uint8Array;
  quant?: { scale: number[]; zeroPoint: number[]; axis: number };
  /** Present when the constant is stored sparse: `data` then holds only the kept values. */
  sparsity?: TfliteSparsity;
}

export interface TfliteOperatorInfo {
  op: string;
  version: number;
  inputs: number[];
  outputs: number[];
  /** custom_code of a CUSTOM operator. */
  custom?: string;
  /** BuiltinOptions union type and the options table's position (0: none), read by options.ts. */
  optionsType: number;
  optionsTable: number;
}

export interface TfliteModelInfo {
  version: number;
  description: string;
  tensors: TfliteTensorInfo[];
  operators: TfliteOperatorInfo[];
  inputs: number[];
  outputs: number[];
  /** Model.metadata entries as UTF-8 text (edgelm writes the graph's metadata there). */
  metadata: Record<string, string>;
}

const TFLITE_MAX_TENSOR_TYPE = 19;

export class Reader {
  private readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(what: string): never {
    throw inputError(this.file, `corrupt TFLite flatbuffer: ${what}`);
  }
  check(pos: number, len: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || len < 0 || pos + len > this.bytes.length) this.fail(`${what} points outside the file`);
  }
  u16(pos: number): number {
    this.check(pos, 2, 'a field');
    return this.dv.getUint16(pos, true);
  }
  i32(pos: number): number {
    this.check(pos, 4, 'a field');
    return this.dv.getInt32(pos, true);
  }
  u32(pos: number): number {
    this.check(pos, 4, 'a field');
    return this.dv.getUint32(pos, true);
  }
  /** Position of a table's field, or 0 when absent. */
  field(table: number, slot: number): number {
    const vtable = table - this.i32(table);
    const size = this.u16(vtable);
    const at = 4 + 2 * slot;
    if (at + 2 > size) return 0;
    const off = this.u16(vtable + at);
    return off ? table + off : 0;
  }
  scalar(table: number, slot: number, kind: 'u8' | 'i8' | 'i32' | 'u32' | 'f32', dflt = 0): number {
    const p = this.field(table, slot);
    if (!p) return dflt;
    this.check(p, kind === 'u8' || kind === 'i8' ? 1 : 4, 'a field');
    if (kind === 'f32') return this.dv.getFloat32(p, true);
    return kind === 'u8' ? this.dv.getUint8(p) : kind === 'i8' ? this.dv.getInt8(p) : kind === 'i32' ? this.dv.getInt32(p, true) : this.dv.getUint32(p, true);
  }
  /** A vector of u8 / u16 / i32 elements as numbers. */
  numbers(table: number, slot: number, kind: 'u8' | 'u16' | 'i32'): number[] {
    const size = kind === 'u8' ? 1 : kind === 'u16' ? 2 : 4;
    const { len, start } = this.vector(table, slot, size);
    return Array.from({ length: len }, (_, i) => (kind === 'u8' ? this.bytes[start + i]! : kind === 'u16' ? this.dv.getUint16(start + 2 * i, true) : this.dv.getInt32(start + 4 * i, true)));
  }
  /** Target of an offset field (table, vector or string), or 0. */
  ref(table: number, slot: number): number {
    const p = this.field(table, slot);
    return p ? p + this.u32(p) : 0;
  }
  /** A vector's element count and first element position, its bytes checked against the file. */
  vector(table: number, slot: number, elemBytes: number): { len: number; start: number } {
    const v = this.ref(table, slot);
    if (!v) return { len: 0, start: 0 };
    const len = this.u32(v);
    this.check(v + 4, len * elemBytes, 'a vector');
    return { len, start: v + 4 };
  }
  tables(table: number, slot: number): number[] {
    const { len, start } = this.vector(table, slot, 4);
    return Array.from({ length: len }, (_, i) => start + 4 * i + this.u32(start + 4 * i));
  }
  ints(table: number, slot: number): number[] {
    const { len, start } = this.vector(table, slot, 4);
    return Array.from({ length: len }, (_, i) => this.dv.getInt32(start + 4 * i, true));
  }
  string(table: number, slot: number): string {
    const { len, start } = this.vector(table, slot, 1);
    return new TextDecoder().decode(this.bytes.subarray(start, start + len));
  }
}

export function readTfliteInfo(file: string): TfliteModelInfo {
  return readTflite(file).info;
}

/** The model's structure and the reader over its bytes (options.ts reads operator options with it). */
export function readTflite(file: string): { info: TfliteModelInfo; reader: Reader } {
  const bytes = readInputFile(file);
  const r = new Reader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
  if (bytes.length < 8 || bytes.toString('latin1', 4, 8) !== 'TFL3') r.fail('no TFL3 identifier');
  const model = r.u32(0);
  const version = r.scalar(model, SLOT.Model.version, 'u32');
  const codes = r.tables(model, SLOT.Model.operator_codes).map((c) => ({
    code: Math.max(r.scalar(c, SLOT.OperatorCode.deprecated_builtin_code, 'i8'), r.scalar(c, SLOT.OperatorCode.builtin_code, 'i32')),
    custom: r.string(c, SLOT.OperatorCode.custom_code),
    version: r.scalar(c, SLOT.OperatorCode.version, 'i32', 1),
  }));
  const buffers = r.tables(model, SLOT.Model.buffers).map((b) => {
    const { len, start } = r.vector(b, SLOT.Buffer.data, 1);
    return r.bytes.subarray(start, start + len);
  });
  const subgraphs = r.tables(model, SLOT.Model.subgraphs);
  if (!subgraphs.length) r.fail('no subgraph');
  const sg = subgraphs[0]!;
  const tensors = r.tables(sg, SLOT.SubGraph.tensors).map((t, i): TfliteTensorInfo => {
    const name = r.string(t, SLOT.Tensor.name) || `tensor_${i}`;
    const shape = r.ints(t, SLOT.Tensor.shape);
    const code = r.scalar(t, SLOT.Tensor.type, 'u8');
    // The schema's TensorType enum ends at 19 (INT2); a larger code is a damaged file, not a type.
    if (code > TFLITE_MAX_TENSOR_TYPE) r.fail(`tensor '${name}' has type ${code}, which the TFLite schema does not define`);
    const buffer = r.scalar(t, SLOT.Tensor.buffer, 'u32');
    if (buffer >= Math.max(buffers.length, 1)) r.fail(`tensor '${name}' refers to buffer ${buffer} of ${buffers.length}`);
    const info: TfliteTensorInfo = { name, shape, dtype: dtypeFromTflite(code) ?? `tflite:${code}`, data: buffers[buffer] ?? new Uint8Array(0) };
    // A sparse constant's buffer holds only its kept values; sparsity.ts checks it against its index arrays.
    const sp = r.ref(t, SLOT.Tensor.sparsity);
    if (sp) info.sparsity = readSparsity(r, sp, name, shape.length);
    // Constant data must be what the shape declares: consumers walk `shape` elements of `data`,
    // and a corrupt shape ([65536, 65536] over a few bytes) would otherwise mean billions of steps.
    if (info.data.length && !info.sparsity) {
      const n = sizeOf(shape);
      const dt = dtypeFromTflite(code);
      // Types edgelm does not model may pack several elements per byte (int4, int2): bound them only.
      if (!Number.isFinite(n) || (dt ? n * DTYPES[dt].bytes !== info.data.length : n > 8 * info.data.length))
        r.fail(`tensor '${name}' has shape [${shape}] but its buffer holds ${info.data.length} bytes`);
    }
    const q = r.ref(t, SLOT.Tensor.quantization);
    if (q) {
      const s = r.vector(q, SLOT.QuantizationParameters.scale, 4);
      const z = r.vector(q, SLOT.QuantizationParameters.zero_point, 8);
      if (s.len) {
        const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset);
        info.quant = {
          scale: Array.from({ length: s.len }, (_, k) => dv.getFloat32(s.start + 4 * k, true)),
          zeroPoint: Array.from({ length: z.len }, (_, k) => Number(dv.getBigInt64(z.start + 8 * k, true))),
          axis: r.scalar(q, SLOT.QuantizationParameters.quantized_dimension, 'i32'),
        };
      }
    }
    return info;
  });
  // -1 marks an omitted optional operator input; the subgraph's own inputs and outputs must exist.
  const index = (list: number[], what: string, optional = true): number[] => {
    for (const k of list) if (k < (optional ? -1 : 0) || k >= tensors.length) r.fail(`${what} refers to tensor ${k} of ${tensors.length}`);
    return list;
  };
  const operators = r.tables(sg, SLOT.SubGraph.operators).map((o, i) => {
    const c = codes[r.scalar(o, SLOT.Operator.opcode_index, 'u32')];
    if (!c) return r.fail(`operator ${i} has no operator code`);
    return {
      op: OP_NAMES[c.code] ?? `BUILTIN_${c.code}`,
      version: c.version,
      inputs: index(r.ints(o, SLOT.Operator.inputs), `operator ${i}`),
      outputs: index(r.ints(o, SLOT.Operator.outputs), `operator ${i}`),
      ...(c.code === OP.CUSTOM ? { custom: c.custom } : {}),
      optionsType: r.scalar(o, SLOT.Operator.builtin_options_type, 'u8'),
      optionsTable: r.ref(o, SLOT.Operator.builtin_options),
    };
  });
  const info: TfliteModelInfo = {
    version,
    description: r.string(model, SLOT.Model.description),
    tensors,
    operators,
    inputs: index(r.ints(sg, SLOT.SubGraph.inputs), 'the subgraph inputs', false),
    outputs: index(r.ints(sg, SLOT.SubGraph.outputs), 'the subgraph outputs', false),
    metadata: Object.fromEntries(
      r.tables(model, SLOT.Model.metadata).map((m) => {
        const name = r.string(m, SLOT.Metadata.name);
        const buffer = buffers[r.scalar(m, SLOT.Metadata.buffer, 'u32')];
        if (!buffer) r.fail(`metadata '${name}' refers to a missing buffer`);
        return [name, new TextDecoder().decode(buffer)];
      }),
    ),
  };
  return { info, reader: r };
}
