// Serializes a TFLite model description into flatbuffer bytes. Knows the schema's layout, nothing
// about graphs: src/export/tflite/lower.ts decides what goes in.
import { Builder } from 'flatbuffers';
import { OP, SCHEMA_VERSION, SLOT } from './schema.js';

export interface TflQuant {
  scale: number[];
  zeroPoint: number[];
  /** quantized_dimension: the axis scales run along (per channel); 0 for per tensor. */
  axis: number;
}

export interface TflTensor {
  name: string;
  shape: number[];
  /** TensorType code. */
  type: number;
  /** Index into buffers; 0 = no data (activations). */
  buffer: number;
  quant?: TflQuant;
  /** shape with −1 for dims that may change at run time (the batch). */
  shapeSignature?: number[];
  /** A sparse constant (the buffer holds the kept values): schema.fbs SparsityParameters. */
  sparsity?: TflSparsity;
}

export interface TflSparsity {
  traversalOrder: number[];
  blockMap: number[];
  /** Per traversed dim: a dense size, or CSR segments and indices (written as Int32Vector). */
  dims: ({ format: 'DENSE'; denseSize: number } | { format: 'SPARSE_CSR'; segments: number[]; indices: number[] })[];
}

function sparsityTable(b: Builder, sp: TflSparsity): Offset {
  const int32Table = (values: number[]): Offset => {
    const v = int32Vector(b, values);
    b.startObject(1);
    b.addFieldOffset(0, v, 0);
    return b.endObject();
  };
  const dims = sp.dims.map((d) => {
    const [seg, idx] = d.format === 'SPARSE_CSR' ? [int32Table(d.segments), int32Table(d.indices)] : [0, 0];
    b.startObject(6);
    b.addFieldInt8(0, d.format === 'DENSE' ? 0 : 1, 0);
    if (d.format === 'DENSE') b.addFieldInt32(1, d.denseSize, 0);
    else {
      b.addFieldInt8(2, 1, 0); // SparseIndexVector.Int32Vector
      b.addFieldOffset(3, seg, 0);
      b.addFieldInt8(4, 1, 0);
      b.addFieldOffset(5, idx, 0);
    }
    return b.endObject();
  });
  const order = int32Vector(b, sp.traversalOrder);
  const blocks = int32Vector(b, sp.blockMap);
  const meta = offsetVector(b, dims);
  b.startObject(3);
  b.addFieldOffset(0, order, 0);
  b.addFieldOffset(1, blocks, 0);
  b.addFieldOffset(2, meta, 0);
  return b.endObject();
}

/** One field of a builtin options table: [slot, kind, value]. */
export type OptionField = [number, 'bool' | 'i8' | 'i32' | 'f32', number | boolean] | [number, 'i32[]', number[]];

export interface TflOperator {
  /** BuiltinOperator code and the op version the kernels need. */
  op: number;
  version: number;
  inputs: number[];
  outputs: number[];
  options?: { type: number; fields: OptionField[] };
}

export interface TflModel {
  description: string;
  tensors: TflTensor[];
  inputs: number[];
  outputs: number[];
  operators: TflOperator[];
  /** buffers[0] must be empty (the schema's sentinel). */
  buffers: Uint8Array[];
  signature: { key: string; inputs: [string, number][]; outputs: [string, number][] };
  /** Name → buffer index, for Model.metadata. */
  metadata?: [string, number][];
}

type Offset = number;

function int32Vector(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]!);
  return b.endVector();
}
function float32Vector(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]!);
  return b.endVector();
}
function int64Vector(b: Builder, values: readonly number[]): Offset {
  b.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]!));
  return b.endVector();
}
function offsetVector(b: Builder, offsets: readonly Offset[]): Offset {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}
/** Buffer.data is declared force_align: 16 so runtimes may map weights in place. */
function alignedBytes(b: Builder, bytes: Uint8Array): Offset {
  b.startVector(1, bytes.length, 16);
  const inner = b as unknown as { bb: { bytes(): Uint8Array; setPosition(p: number): void }; space: number };
  inner.space -= bytes.length;
  inner.bb.setPosition(inner.space);
  inner.bb.bytes().set(bytes, inner.space);
  return b.endVector();
}

function writeOptions(b: Builder, fields: OptionField[]): Offset {
  // Vectors must be created before the table starts.
  const vectors = new Map<number, Offset>();
  for (const f of fields) if (f[1] === 'i32[]') vectors.set(f[0], int32Vector(b, f[2]));
  const slots = fields.reduce((m, f) => Math.max(m, f[0] + 1), 0);
  b.startObject(slots);
  for (const f of fields) {
    const [slot, kind, value] = f;
    if (kind === 'i32[]') b.addFieldOffset(slot, vectors.get(slot)!, 0);
    else if (kind === 'bool') b.addFieldInt8(slot, value ? 1 : 0, null);
    else if (kind === 'i8') b.addFieldInt8(slot, value as number, null);
    else if (kind === 'i32') b.addFieldInt32(slot, value as number, null);
    else b.addFieldFloat32(slot, value as number, null);
  }
  return b.endObject();
}

export function serializeTflite(m: TflModel): Uint8Array {
  const b = new Builder(1024 + m.buffers.reduce((s, x) => s + x.length + 16, 0));

  // Operator codes, deduplicated by (op, version), in first-use order.
  const codes: { op: number; version: number }[] = [];
  const codeIndex = new Map<string, number>();
  const opcodeOf = (op: TflOperator): number => {
    const key = `${op.op}/${op.version}`;
    let i = codeIndex.get(key);
    if (i === undefined) {
      i = codes.length;
      codes.push({ op: op.op, version: op.version });
      codeIndex.set(key, i);
    }
    return i;
  };
  const opcodeIndices = m.operators.map(opcodeOf);

  const bufferOffsets = m.buffers.map((data) => {
    const d = data.length ? alignedBytes(b, data) : 0;
    b.startObject(3);
    if (d) b.addFieldOffset(SLOT.Buffer.data, d, 0);
    return b.endObject();
  });

  const tensorOffsets = m.tensors.map((t) => {
    const name = b.createString(t.name);
    const shape = int32Vector(b, t.shape);
    const sig = t.shapeSignature ? int32Vector(b, t.shapeSignature) : 0;
    const sparse = t.sparsity ? sparsityTable(b, t.sparsity) : 0;
    let quant = 0;
    if (t.quant) {
      const scale = float32Vector(b, t.quant.scale);
      const zp = int64Vector(b, t.quant.zeroPoint);
      b.startObject(7);
      b.addFieldOffset(SLOT.QuantizationParameters.scale, scale, 0);
      b.addFieldOffset(SLOT.QuantizationParameters.zero_point, zp, 0);
      b.addFieldInt32(SLOT.QuantizationParameters.quantized_dimension, t.quant.axis, 0);
      quant = b.endObject();
    }
    b.startObject(9);
    b.addFieldOffset(SLOT.Tensor.shape, shape, 0);
    b.addFieldInt8(SLOT.Tensor.type, t.type, 0);
    b.addFieldInt32(SLOT.Tensor.buffer, t.buffer, 0);
    b.addFieldOffset(SLOT.Tensor.name, name, 0);
    if (quant) b.addFieldOffset(SLOT.Tensor.quantization, quant, 0);
    if (sparse) b.addFieldOffset(SLOT.Tensor.sparsity, sparse, 0);
    if (sig) b.addFieldOffset(SLOT.Tensor.shape_signature, sig, 0);
    return b.endObject();
  });

  const operatorOffsets = m.operators.map((op, i) => {
    const inputs = int32Vector(b, op.inputs);
    const outputs = int32Vector(b, op.outputs);
    const options = op.options ? writeOptions(b, op.options.fields) : 0;
    b.startObject(7);
    b.addFieldInt32(SLOT.Operator.opcode_index, opcodeIndices[i]!, 0);
    b.addFieldOffset(SLOT.Operator.inputs, inputs, 0);
    b.addFieldOffset(SLOT.Operator.outputs, outputs, 0);
    if (op.options) {
      b.addFieldInt8(SLOT.Operator.builtin_options_type, op.options.type, 0);
      b.addFieldOffset(SLOT.Operator.builtin_options, options, 0);
    }
    return b.endObject();
  });

  const subgraphName = b.createString('main');
  const tensors = offsetVector(b, tensorOffsets);
  const sgInputs = int32Vector(b, m.inputs);
  const sgOutputs = int32Vector(b, m.outputs);
  const operators = offsetVector(b, operatorOffsets);
  b.startObject(5);
  b.addFieldOffset(SLOT.SubGraph.tensors, tensors, 0);
  b.addFieldOffset(SLOT.SubGraph.inputs, sgInputs, 0);
  b.addFieldOffset(SLOT.SubGraph.outputs, sgOutputs, 0);
  b.addFieldOffset(SLOT.SubGraph.operators, operators, 0);
  b.addFieldOffset(SLOT.SubGraph.name, subgraphName, 0);
  const subgraph = b.endObject();

  const codeOffsets = codes.map((c) => {
    b.startObject(4);
    // Runtimes read max(deprecated_builtin_code, builtin_code); codes past 127 use the placeholder.
    b.addFieldInt8(SLOT.OperatorCode.deprecated_builtin_code, Math.min(c.op, OP.PLACEHOLDER_FOR_GREATER_OP_CODES), null);
    b.addFieldInt32(SLOT.OperatorCode.version, c.version, null);
    b.addFieldInt32(SLOT.OperatorCode.builtin_code, c.op, null);
    return b.endObject();
  });

  const tensorMaps = (entries: [string, number][]): Offset =>
    offsetVector(
      b,
      entries.map(([name, index]) => {
        const n = b.createString(name);
        b.startObject(2);
        b.addFieldOffset(SLOT.TensorMap.name, n, 0);
        b.addFieldInt32(SLOT.TensorMap.tensor_index, index, null);
        return b.endObject();
      }),
    );
  const sigIn = tensorMaps(m.signature.inputs);
  const sigOut = tensorMaps(m.signature.outputs);
  const sigKey = b.createString(m.signature.key);
  b.startObject(5);
  b.addFieldOffset(SLOT.SignatureDef.inputs, sigIn, 0);
  b.addFieldOffset(SLOT.SignatureDef.outputs, sigOut, 0);
  b.addFieldOffset(SLOT.SignatureDef.signature_key, sigKey, 0);
  b.addFieldInt32(SLOT.SignatureDef.subgraph_index, 0, null);
  const signature = b.endObject();

  const metadata = (m.metadata ?? []).map(([name, buffer]) => {
    const n = b.createString(name);
    b.startObject(2);
    b.addFieldOffset(SLOT.Metadata.name, n, 0);
    b.addFieldInt32(SLOT.Metadata.buffer, buffer, null);
    return b.endObject();
  });

  const description = b.createString(m.description);
  const codesVec = offsetVector(b, codeOffsets);
  const subgraphs = offsetVector(b, [subgraph]);
  const buffers = offsetVector(b, bufferOffsets);
  const signatures = offsetVector(b, [signature]);
  const metadataVec = metadata.length ? offsetVector(b, metadata) : 0;
  b.startObject(8);
  b.addFieldInt32(SLOT.Model.version, SCHEMA_VERSION, null);
  b.addFieldOffset(SLOT.Model.operator_codes, codesVec, 0);
  b.addFieldOffset(SLOT.Model.subgraphs, subgraphs, 0);
  b.addFieldOffset(SLOT.Model.description, description, 0);
  b.addFieldOffset(SLOT.Model.buffers, buffers, 0);
  if (metadataVec) b.addFieldOffset(SLOT.Model.metadata, metadataVec, 0);
  b.addFieldOffset(SLOT.Model.signature_defs, signatures, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}
