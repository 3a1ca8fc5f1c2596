// `inspect` of an ONNX file edgelm's IR cannot read (an op no translation reads, a type it has no dtype
// for): the report comes from the file itself (ops as ONNX names them, initializers one at a time from a
// lazily decoded model, so memory stays at one weight) and names each node the IR cannot read, which
// ONNX → ONNX quantization keeps as it is.
import { dtypeFromOnnx, DTYPES } from '../ir/dtype.js';
import { sizeOf, sparsity, type Dim } from '../ir/tensor.js';
import { keyOf, onnxTypeName, unreadableNodes } from '../import/onnx/index.js';
import { num, tensorFromProto } from '../import/onnx/proto.js';
import { decodeModelLazily } from '../import/onnx/scan.js';
import { modelBytes, type InspectReport, type IoReport, type TensorReport } from './inspect.js';

const typeName = (code: number): string => dtypeFromOnnx(code) ?? onnxTypeName(code);

export function inspectOnnxFile(file: string, reason: string): InspectReport {
  const model = decodeModelLazily(file);
  const g = model.graph!;
  const initializers = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  type ValueInfo = NonNullable<typeof g.input>[number];
  const io = (v: ValueInfo): IoReport => {
    const tt = v.type?.tensorType;
    const shape: Dim[] = (tt?.shape?.dim ?? []).map((d) => d.dimParam || (d.dimValue !== null && d.dimValue !== undefined && num(d.dimValue) > 0 ? num(d.dimValue) : '?'));
    return { name: v.name ?? '', shape, dtype: typeName(tt?.elemType ?? 0) };
  };
  const ops: Record<string, number> = {};
  for (const n of g.node ?? []) ops[keyOf(n)] = (ops[keyOf(n)] ?? 0) + 1;
  const tensors: TensorReport[] = (g.initializer ?? []).map((t) => {
    const shape = (t.dims ?? []).map(num);
    const dtype = dtypeFromOnnx(t.dataType ?? 0);
    if (!dtype) return { name: t.name ?? '', shape, dtype: typeName(t.dataType ?? 0), bytes: t.rawData?.length ?? 0, sparsity: 0 };
    const tensor = tensorFromProto(file, t);
    return { name: tensor.name, shape, dtype, bytes: tensor.data.length * DTYPES[dtype].bytes, sparsity: sparsity(tensor) };
  });
  const isFloat = (t: TensorReport): boolean => t.dtype.startsWith('float') || t.dtype === 'bfloat16';
  return {
    file,
    format: 'onnx',
    fileBytes: modelBytes(file),
    inputs: (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(io),
    outputs: (g.output ?? []).map(io),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : 1))),
    nodes: (g.node ?? []).length,
    params: tensors.filter((t) => isFloat(t) && sizeOf(t.shape) > 1).reduce((s, t) => s + sizeOf(t.shape), 0),
    weightBytes: tensors.reduce((s, t) => s + t.bytes, 0),
    tensors,
    unreadable: { reason, nodes: unreadableNodes(g) },
  };
}
