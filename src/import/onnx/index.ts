// ONNX reader: .onnx (opset 7–21, external data inside the model's folder) → Graph.
import { EdgelmError, UnsupportedOpError, inputError } from '../../errors.js';
import { ReaderGraphBuilder } from '../builder.js';
import { dtypeFromOnnx } from '../../ir/dtype.js';
import { halfToFloat } from '../../ir/float16.js';
import type { Graph } from '../../ir/graph.js';
import type { Dim, Tensor } from '../../ir/tensor.js';
import { readInputFile } from '../files.js';
import { ONNX_DOMAIN_OPS, ONNX_OPS, type OnnxCtx } from './ops.js';
import { attributes, decodeModel, rememberExternalFiles, num, takeDecoded, tensorFromProto } from './proto.js';
import { fusePatterns } from '../../ir/passes/fuse-patterns.js';

export const ONNX_OPSET_RANGE = [7, 21] as const;

export function readOnnxModel(file: string, bytes?: Uint8Array): Graph {
  const model = (bytes ? undefined : takeDecoded(file)) ?? decodeModel(file, bytes ?? readInputFile(file));
  rememberExternalFiles(file, model);
  const g = model.graph!;
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = opsetEntry ? num(opsetEntry.version) : 0;
  if (opset < ONNX_OPSET_RANGE[0] || opset > ONNX_OPSET_RANGE[1])
    throw new EdgelmError('unsupported', `${file}: ONNX opset ${opset} is not supported (${ONNX_OPSET_RANGE[0]}–${ONNX_OPSET_RANGE[1]})`);

  const nodes = g.node ?? [];
  // Default-domain ops by name, others (onnxruntime's com.microsoft) as `domain.op`.
  const keyOf = (n: (typeof nodes)[number]): string => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType ?? ''}` : n.opType ?? '');
  const translator = (key: string): ((c: OnnxCtx) => void) | undefined =>
    Object.hasOwn(ONNX_OPS, key) ? ONNX_OPS[key] : Object.hasOwn(ONNX_DOMAIN_OPS, key) ? ONNX_DOMAIN_OPS[key] : undefined;
  const unsupported = new Map<string, string>();
  nodes.forEach((n, i) => {
    const key = keyOf(n);
    if (!translator(key) && !unsupported.has(key)) unsupported.set(key, n.name || `#${i}`);
  });
  if (unsupported.size) throw new UnsupportedOpError(file, 'the ONNX graph', unsupported, [...Object.keys(ONNX_OPS), ...Object.keys(ONNX_DOMAIN_OPS)]);

  const b = new ReaderGraphBuilder(file);
  const values = new Map<string, string>(); // ONNX value name → IR value name
  const initializerNames = new Set<string>();
  for (const t of g.initializer ?? []) {
    const tensor = tensorFromProto(file, t);
    if (!tensor.name) throw inputError(file, 'an initializer has no name');
    if (!tensor.dtype.startsWith('float') && tensor.dtype !== 'int64' && tensor.dtype !== 'int32' && tensor.dtype !== 'bool' && tensor.dtype !== 'int8' && tensor.dtype !== 'uint8')
      throw inputError(file, `initializer '${tensor.name}': dtype ${tensor.dtype} is not supported`);
    values.set(tensor.name, b.addConstant(widen(tensor)));
    initializerNames.add(tensor.name);
  }
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    if (initializerNames.has(name)) continue; // IR < 4: initializers are also listed as inputs
    const tt = vi.type?.tensorType;
    if (!tt) throw inputError(file, `input '${name}' is not a tensor`);
    const dtype = dtypeFromOnnx(tt.elemType ?? 0);
    if (!dtype) throw inputError(file, `input '${name}': unsupported element type ${tt.elemType}`);
    const shape: Dim[] = (tt.shape?.dim ?? []).map((d) => {
      if (d.dimValue !== null && d.dimValue !== undefined && (typeof d.dimValue === 'number' || typeof d.dimValue === 'object')) {
        const v = num(d.dimValue);
        if (d.dimParam || v <= 0) return null;
        return v;
      }
      return null;
    });
    if (!tt.shape) throw inputError(file, `input '${name}' has no shape`);
    values.set(name, b.addInput(name, dtype, shape));
  }

  nodes.forEach((n, index) => {
    const name = n.name || `${n.opType}_${index}`;
    const inputs = n.input ?? [];
    const ctx: OnnxCtx = {
      b,
      file,
      opset,
      name,
      opType: n.opType ?? '',
      attrs: attributes(file, n),
      inputs,
      outputs: n.output ?? [],
      input(i) {
        const v = inputs[i];
        if (!v) return '';
        const ir = values.get(v);
        if (ir === undefined) throw inputError(file, `node ${name} (${n.opType}) reads '${v}', which no earlier node or input defines`);
        return ir;
      },
      konst(i) {
        const v = this.input(i);
        return v ? b.constant(v) : undefined;
      },
      typeOf: (v) => b.typeOf(v),
      bind(i, value) {
        const out = n.output?.[i];
        if (out) values.set(out, value);
      },
      fail: (what) => new EdgelmError('unsupported', `${file}: node ${name} (${n.opType}): ${what}`),
    };
    translator(keyOf(n))!(ctx);
  });

  const outputs = (g.output ?? []).map((o) => {
    const v = values.get(o.name ?? '');
    if (v === undefined) throw inputError(file, `graph output '${o.name}' is not computed by any node`);
    return v;
  });
  const metadata: Record<string, string> = { producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(), opset: String(opset) };
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const graph = b.build(g.name || 'model', 'onnx', outputs, metadata);
  // Keep the source's output names: rename the IR values that carry them.
  return renameOutputs(fusePatterns(graph), (g.output ?? []).map((o) => o.name ?? ''));
}

/** Halfs are widened at import: the IR computes in float32. */
function widen(t: Tensor): Tensor {
  if (t.dtype !== 'float16' && t.dtype !== 'float64') return t;
  const data = t.dtype === 'float64' ? Float32Array.from(t.data as Float64Array) : Float32Array.from(t.data as Uint16Array, halfToFloat);
  return { name: t.name, dtype: 'float32', shape: t.shape, data };
}


/** Renames graph output values to the names the source file gave them, where free. */
function renameOutputs(graph: Graph, names: string[]): Graph {
  const rename = new Map<string, string>();
  const taken = new Set([...graph.nodes.flatMap((n) => n.outputs), ...graph.inputs.map((i) => i.name), ...graph.constants.keys()]);
  graph.outputs.forEach((o, i) => {
    const want = names[i];
    if (!want || want === o.name || taken.has(want) || rename.has(o.name)) return;
    if (graph.constants.has(o.name) || graph.inputs.some((inp) => inp.name === o.name)) return;
    rename.set(o.name, want);
    taken.add(want);
  });
  if (!rename.size) return graph;
  const r = (v: string): string => rename.get(v) ?? v;
  return {
    ...graph,
    nodes: graph.nodes.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) })),
    outputs: graph.outputs.map((o) => ({ ...o, name: r(o.name) })),
  };
}
