// ONNX reader: .onnx (opset 1–21; opsets 1–6 via legacy.ts; external data inside the model's folder) → Graph.
import { EdgelmError, UnsupportedOpError, inputError } from '../../errors.js';
import { ReaderGraphBuilder } from '../builder.js';
import { dtypeFromOnnx } from '../../ir/dtype.js';
import { decodeModelLazily } from './scan.js';
import { halfToFloat } from '../../ir/float16.js';
import type { Graph } from '../../ir/graph.js';
import type { Dim, Tensor } from '../../ir/tensor.js';
import type { OnnxCtx } from './ctx.js';
import { ONNX_DOMAIN_OPS, ONNX_OPS } from './ops.js';
import { SHAPE_FOLDS, dimsOf } from './shapes.js';
import { symbolicDim, unnamedDim } from '../../ir/dim.js';
import { attributes, decodeModel, missingTypeReason, onnxTypeName, rememberExternalFiles, num, takeDecoded, tensorFromProto } from './proto.js';
import { fusePatterns } from '../../ir/passes/fuse-patterns.js';
import { LEGACY_UNTIL, legacyTranslator } from './legacy.js';
import { applyFixedInputs, type DeclaredInput, type FixedInputs } from '../fixed-inputs.js';

export const ONNX_OPSET_RANGE = [1, 21] as const;

export function readOnnxModel(file: string, bytes?: Uint8Array, fixed?: FixedInputs): Graph {
  // From a path, weights are read one at a time from the file (aligned, never copied twice): see scan.ts.
  const model = bytes ? decodeModel(file, bytes) : (takeDecoded(file) ?? decodeModelLazily(file));
  rememberExternalFiles(file, model);
  const g = model.graph!;
  const opsetEntry = (model.opsetImport ?? []).find((o) => isDefault(o.domain));
  if (!opsetEntry && (g.node ?? []).some((n) => isDefault(n.domain))) throw inputError(file, 'the graph uses ONNX (ai.onnx) ops but the model imports no ai.onnx opset');
  // A model of other domains only (ai.onnx.ml, com.microsoft) needs no ai.onnx opset; its ops decide.
  const opset = opsetEntry ? num(opsetEntry.version) : ONNX_OPSET_RANGE[1];
  if (opset < ONNX_OPSET_RANGE[0] || opset > ONNX_OPSET_RANGE[1])
    throw new EdgelmError('unsupported', `${file}: ONNX opset ${opset} is not supported (${ONNX_OPSET_RANGE[0]}–${ONNX_OPSET_RANGE[1]})`);

  const b = new ReaderGraphBuilder(file);
  const values = new Map<string, string>(); // ONNX value name → IR value name
  const unsupported = new Map<string, string>();
  collectUnsupported(g, unsupported);
  if (unsupported.size) throw new UnsupportedOpError(file, 'the ONNX graph', unsupported, [...new Set([...Object.keys(ONNX_OPS), ...Object.keys(SHAPE_FOLDS), 'If', ...Object.keys(ONNX_DOMAIN_OPS)])]);

  const initializerNames = new Set<string>();
  addInitializers(file, b, g, values, initializerNames);
  const declared: DeclaredInput[] = [];
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    if (initializerNames.has(name)) continue; // IR < 4: initializers are also listed as inputs
    const tt = vi.type?.tensorType;
    if (!tt) throw inputError(file, `input '${name}' is not a tensor`);
    const dtype = dtypeFromOnnx(tt.elemType ?? 0);
    if (!dtype) throw new EdgelmError('unsupported', `${file}: input '${name}': element type ${onnxTypeName(tt.elemType ?? 0)} is not supported${missingTypeReason(tt.elemType ?? 0)}`);
    if (!tt.shape) throw inputError(file, `input '${name}' has no shape`);
    // A dim is its size, its dim_param (a named run-time dim), or a generated name when it has neither.
    const shape: Dim[] = (tt.shape.dim ?? []).map((d, k) => {
      if (d.dimParam) return symbolicDim(d.dimParam);
      const v = d.dimValue !== null && d.dimValue !== undefined ? num(d.dimValue) : 0;
      return v > 0 ? v : unnamedDim(name, k);
    });
    declared.push({ name, dtype, shape });
  }
  const { inputs, constants } = applyFixedInputs(file, declared, fixed);
  for (const c of constants) values.set(c.name, b.addConstant(c));
  for (const i of inputs) values.set(i.name, b.addInput(i.name, i.dtype, i.shape));
  const notComputed = new Map<string, string>();
  readNodes(file, opset, b, g.node ?? [], values, notComputed);

  const outputs = (g.output ?? []).map((o) => {
    const v = values.get(o.name ?? '');
    if (v === undefined) throw undefinedValue(file, notComputed, o.name ?? '', `graph output '${o.name}' is not computed by any node`);
    return v;
  });
  const metadata: Record<string, string> = { producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(), opset: String(opset) };
  for (const p of model.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const graph = b.build(g.name || 'model', 'onnx', outputs, metadata);
  // Keep the source's output names: rename the IR values that carry them.
  return renameOutputs(fusePatterns(graph), (g.output ?? []).map((o) => o.name ?? ''));
}

type GraphProto = NonNullable<ReturnType<typeof decodeModel>['graph']>;
type NodeProto = NonNullable<GraphProto['node']>[number];

const isDefault = (domain: string | null | undefined): boolean => !domain || domain === 'ai.onnx';
/** Default-domain ops by name, others (onnxruntime's com.microsoft) as `domain.op`. */
export const keyOf = (n: NodeProto): string => (isDefault(n.domain) ? n.opType ?? '' : `${n.domain}.${n.opType ?? ''}`);

/**
 * A value no node computes: 'unsupported' when a node declares it as an output its translation does
 * not compute (an optional output: LayerNormalization's Mean, MaxPool's Indices), else bad input.
 */
function undefinedValue(file: string, notComputed: ReadonlyMap<string, string>, value: string, what: string): EdgelmError {
  const why = notComputed.get(value);
  return why ? new EdgelmError('unsupported', `${file}: ${why}`) : inputError(file, what);
}

function translator(key: string): ((c: OnnxCtx) => void) | undefined {
  const general = Object.hasOwn(ONNX_OPS, key) ? ONNX_OPS[key] : Object.hasOwn(ONNX_DOMAIN_OPS, key) ? ONNX_DOMAIN_OPS[key] : undefined;
  const fold = Object.hasOwn(SHAPE_FOLDS, key) ? SHAPE_FOLDS[key] : undefined;
  if (!fold) return general;
  // Shape arithmetic first; what it cannot fold runs as the op (Shape-fed Equal on two symbols, …).
  return (c) => {
    if (fold(c)) return;
    if (!general) throw c.fail('computes on shapes in a way edgelm cannot fold');
    general(c);
  };
}

/** Every node of the graph and of its If branches whose op no translation reads. */
export function unreadableNodes(g: GraphProto): { op: string; node: string }[] {
  return (g.node ?? []).flatMap((n, i) => {
    const key = keyOf(n);
    if (key === 'If') return (n.attribute ?? []).flatMap((a) => (a.g ? unreadableNodes(a.g) : []));
    return translator(key) ? [] : [{ op: key, node: n.name || `#${i}` }];
  });
}

/** Every op no translation reads, with the first node using it. */
function collectUnsupported(g: GraphProto, out: Map<string, string>): void {
  for (const { op, node } of unreadableNodes(g)) if (!out.has(op)) out.set(op, node);
}

function addInitializers(file: string, b: ReaderGraphBuilder, g: GraphProto, values: Map<string, string>, names: Set<string>): void {
  for (const t of g.initializer ?? []) {
    const tensor = tensorFromProto(file, t);
    if (!tensor.name) throw inputError(file, 'an initializer has no name');
    if (!tensor.dtype.startsWith('float') && tensor.dtype !== 'int64' && tensor.dtype !== 'int32' && tensor.dtype !== 'bool' && tensor.dtype !== 'int8' && tensor.dtype !== 'uint8')
      throw new EdgelmError('unsupported', `${file}: initializer '${tensor.name}': dtype ${tensor.dtype} is not supported`);
    values.set(tensor.name, b.addConstant(widen(tensor)));
    names.add(tensor.name);
  }
}

/**
 * Translates nodes in order; `values` maps ONNX value names (outer scopes included) to IR values,
 * `notComputed` the declared outputs a translation left out to why.
 */
function readNodes(file: string, opset: number, b: ReaderGraphBuilder, nodes: readonly NodeProto[], values: Map<string, string>, notComputed: Map<string, string>): void {
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
        if (ir === undefined) throw undefinedValue(file, notComputed, v, `node ${name} (${n.opType}) reads '${v}', which no earlier node or input defines`);
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
    if (keyOf(n) === 'If') inlineIf(file, opset, b, n, ctx, values, notComputed);
    else if (opset <= LEGACY_UNTIL) legacyTranslator(keyOf(n), translator(keyOf(n))!)(ctx);
    else translator(keyOf(n))!(ctx);
    (n.output ?? []).forEach((o, i) => {
      if (o && !values.has(o)) notComputed.set(o, `node ${name} (${n.opType}): output ${i} ('${o}') is not supported`);
    });
  });
}

/**
 * An If whose condition folds to a constant (PyTorch's `squeeze(d)` when dim d's size was unknown
 * to the exporter): the taken branch's nodes are read in place, its outputs bound to the If's.
 */
function inlineIf(file: string, opset: number, b: ReaderGraphBuilder, n: NodeProto, c: OnnxCtx, values: Map<string, string>, notComputed: Map<string, string>): void {
  const cond = dimsOf(c, 0);
  if (!cond || cond.dims.length !== 1 || typeof cond.dims[0] !== 'number')
    throw c.fail('the condition depends on run-time data; edgelm inlines an If only when its condition folds to a constant (fix the inputs it depends on: --input-value NAME=VALUE, --shape NAME=DIMS)');
  const branch = (n.attribute ?? []).find((a) => a.name === (cond.dims[0] ? 'then_branch' : 'else_branch'))?.g;
  if (!branch) throw inputError(file, `node ${c.name} (If): no ${cond.dims[0] ? 'then' : 'else'}_branch`);
  const scope = new Map(values);
  addInitializers(file, b, branch, scope, new Set());
  readNodes(file, opset, b, branch.node ?? [], scope, notComputed);
  (branch.output ?? []).forEach((o, i) => {
    const v = scope.get(o.name ?? '');
    if (v === undefined) throw inputError(file, `node ${c.name} (If): branch output '${o.name}' is not computed`);
    c.bind(i, v);
  });
}

/** TensorProto.DataType names of the element types edgelm does not take (proto.ts). */
export { onnxTypeName };

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
