// ONNX → ONNX quantization that rewrites only the nodes it quantizes and keeps every other node,
// attribute, subgraph, value_info, opset import and metadata as the file has them (as
// onnxruntime.quantization does): the path for models with ops edgelm's IR does not read, and for
// models past what fits in memory (and past protobuf's 2 GiB limit). The graph proto is decoded
// without its external data;
// each initializer is read, quantized (or copied) and appended to the output's external data file,
// then dropped. Peak memory is about one float tensor plus its codes (and the codes' transpose for a
// Gemm with transB). MatMul/Gemm weights take the form the in-memory ONNX writer gives them (uint8 codes
// in a DynamicQuantizeLinear → MatMulInteger → Cast → Mul product, which onnxruntime fuses; see
// Writer.dynamicMatMul); other weights (Conv, Gemm with alpha/beta/transA) become int8 codes behind a
// DequantizeLinear that produces the old name.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import type * as P from 'onnx-proto';
import { EdgelmError, usageError } from '../errors.js';
import { num, tensorFromProto } from '../import/onnx/proto.js';
import { decodeModelLazily } from '../import/onnx/scan.js';
import { DTYPES } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import { transposeData } from '../ir/tensor.js';
import { MS_DOMAIN, nbitsWeight } from '../export/onnx/nbits.js';
import type { Dataset } from '../data/index.js';
import { activationParams, quantizeWeights, toUint8Codes, type QuantPlan } from './plan.js';

const { onnx } = onnxProto;

export interface StreamResult {
  files: string[];
  bytes: number;
  quantized: number;
  weights: string[];
  /** Nodes written as the source has them, by op type (`domain.op` outside the default domain). */
  keptNodes: Record<string, number>;
  /** int8: MatMul/Gemm/Conv nodes inside If/Loop/Scan bodies left float (calibration cannot observe values there). */
  subgraphWeightsKept: number;
}

/**
 * Which initializers of `g` are weights, with their output-channel axis, from the nodes that read
 * them: `g`'s own and, with `nested`, those of its subgraphs (an If branch reading an outer weight).
 * Without `nested`, a weight a subgraph reads stays float.
 */
function weightAxes(g: P.onnx.IGraphProto, plan: QuantPlan, nested: boolean): Map<string, number> {
  const axes = new Map<string, number>();
  const inner = nestedNodes(g);
  // Names a subgraph defines itself shadow this scope's; names it reads (int8) keep their form.
  const other = new Set<string>(nested ? nestedDefinitions(g) : inner.flatMap((n) => n.input ?? []));
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const n of nested ? [...(g.node ?? []), ...inner] : g.node ?? []) {
    const ins = n.input ?? [];
    ins.forEach((v, i) => {
      const t = inits.get(v);
      if (!t) return;
      const rank = (t.dims ?? []).length;
      const asNode = { name: n.name ?? '', op: (n.opType ?? '') as Node['op'], inputs: ins, outputs: n.output ?? [], attrs: {} } as Node;
      const float = t.dataType === DTYPES.float32.onnx;
      let axis = -1;
      if (i === 1 && float && !plan.exclude(asNode)) {
        if (n.opType === 'MatMul' && rank === 2) axis = 1;
        else if (n.opType === 'Gemm' && rank === 2) axis = (n.attribute ?? []).some((a) => a.name === 'transB' && num(a.i) === 1) ? 0 : 1;
        else if (n.opType === 'Conv' && rank >= 3) axis = 0;
      }
      if (axis < 0 || (axes.has(v) && axes.get(v) !== axis)) other.add(v);
      else axes.set(v, axis);
    });
  }
  for (const v of other) axes.delete(v); // also read elsewhere, or in two layouts: leave it float
  return axes;
}

const subgraphs = (n: P.onnx.INodeProto): P.onnx.IGraphProto[] => (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);

/** The nodes of a graph's subgraphs (If branches, Loop and Scan bodies), at any depth. */
function nestedNodes(g: P.onnx.IGraphProto): P.onnx.INodeProto[] {
  return (g.node ?? []).flatMap(subgraphs).flatMap((sub) => [...(sub.node ?? []), ...nestedNodes(sub)]);
}

/** The names a graph's subgraphs define (initializers, inputs, node outputs), at any depth. */
function nestedDefinitions(g: P.onnx.IGraphProto): Set<string> {
  const out = new Set<string>();
  const visit = (sub: P.onnx.IGraphProto): void => {
    for (const t of sub.initializer ?? []) out.add(t.name ?? '');
    for (const i of sub.input ?? []) out.add(i.name ?? '');
    for (const n of sub.node ?? []) {
      for (const o of n.output ?? []) out.add(o);
      subgraphs(n).forEach(visit);
    }
  };
  (g.node ?? []).flatMap(subgraphs).forEach(visit);
  return out;
}

const attrOf = (n: P.onnx.INodeProto, name: string): P.onnx.IAttributeProto | undefined => (n.attribute ?? []).find((a) => a.name === name);
/** A MatMul, or a Gemm that is a plain product plus bias (alpha = beta = 1, A not transposed). */
function plainProduct(n: P.onnx.INodeProto): boolean {
  if (n.opType === 'MatMul') return true;
  const isOne = (name: string): boolean => (attrOf(n, name)?.f ?? 1) === 1;
  return n.opType === 'Gemm' && num(attrOf(n, 'transA')?.i ?? 0) === 0 && isOne('alpha') && isOne('beta');
}

/** Weights (of `axes`) whose every reader is a plain product: written as integer products rather than DequantizeLinear. */
function integerProducts(g: P.onnx.IGraphProto, axes: Map<string, number>): Set<string> {
  const ok = new Set(axes.keys());
  for (const n of nestedNodes(g)) for (const v of n.input ?? []) ok.delete(v); // a subgraph reads it by its name
  for (const n of g.node ?? [])
    (n.input ?? []).forEach((v, i) => {
      if (i !== 1 || !plainProduct(n)) ok.delete(v);
    });
  return ok;
}

/** x·W (+ C) of a plain product node as com.microsoft MatMulNBits (→ Add), into the node's output. */
function nbitsProduct(n: P.onnx.INodeProto, w: string, index: number, attrs: Record<string, number>): P.onnx.INodeProto[] {
  const [x, , c] = n.input ?? [];
  const base = n.name || `${w}_${index}`;
  const y = n.output![0]!;
  const INT = onnx.AttributeProto.AttributeType.INT;
  const nodes: P.onnx.INodeProto[] = [{
    name: `${base}_MatMulNBits`, opType: 'MatMulNBits', domain: MS_DOMAIN,
    input: [x!, `${w}_quantized`, `${w}_scales`, `${w}_zero_points`], output: [c ? `${base}_product` : y],
    attribute: Object.entries(attrs).map(([name, i]) => ({ name, type: INT, i })),
  }];
  if (c) nodes.push({ name: `${base}_Add`, opType: 'Add', input: [`${base}_product`, c], output: [y] });
  return nodes;
}

/** x·W (+ C) of a plain product node as DynamicQuantizeLinear → MatMulInteger → Cast → Mul (→ Add), into the node's output. */
function integerProduct(n: P.onnx.INodeProto, w: string, index: number): P.onnx.INodeProto[] {
  const [x, , c] = n.input ?? [];
  const base = n.name || `${w}_${index}`;
  const v = (s: string): string => `${base}_${s}`;
  const y = n.output![0]!;
  const nodes: P.onnx.INodeProto[] = [
    { name: v('DynamicQuantizeLinear'), opType: 'DynamicQuantizeLinear', input: [x!], output: [v('x_quantized'), v('x_scale'), v('x_zero_point')] },
    { name: v('MatMulInteger'), opType: 'MatMulInteger', input: [v('x_quantized'), `${w}_quantized`, v('x_zero_point'), `${w}_zero_point`], output: [v('sum')] },
    { name: v('Cast'), opType: 'Cast', input: [v('sum')], output: [v('sum_float')], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DTYPES.float32.onnx }] },
    { name: v('scales'), opType: 'Mul', input: [v('x_scale'), `${w}_scale`], output: [v('scale')] },
    { name: v('Mul'), opType: 'Mul', input: [v('sum_float'), v('scale')], output: [c ? v('product') : y] },
  ];
  if (c) nodes.push({ name: v('Add'), opType: 'Add', input: [v('product'), c], output: [y] });
  return nodes;
}

interface RewriteState {
  plan: QuantPlan;
  qdq: boolean;
  file: string;
  append: (name: string, dtype: keyof typeof DTYPES, dims: number[], data: Uint8Array) => P.onnx.ITensorProto;
  quantized: string[];
  keptNodes: Record<string, number>;
  /** Whether any MatMulNBits was written (the com.microsoft opset import). */
  nbits: boolean;
  /** int8: products inside subgraphs, kept float. */
  subgraphWeights: number;
}

const small = (name: string, dtype: keyof typeof DTYPES, dims: number[], data: ArrayBufferView): P.onnx.ITensorProto => ({ name, dataType: DTYPES[dtype].onnx, dims, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });

function rewriteGraph(g: P.onnx.IGraphProto, s: RewriteState, top: boolean): void {
  const { plan, qdq, file, append, quantized, keptNodes } = s;
  // Subgraph bodies (If branches, Loop and Scan bodies) first, with their own weights. int8 leaves
  // them float: calibration observes values of the main graph only.
  if (qdq) {
    if (top) s.subgraphWeights = nestedNodes(g).filter((n) => ['MatMul', 'Gemm', 'Conv'].includes(n.opType ?? '')).length;
  } else for (const sub of (g.node ?? []).flatMap(subgraphs)) rewriteGraph(sub, s, false);
  const axes = weightAxes(g, plan, !qdq);
  // int8 (QDQ) keeps every product as the source has it, its weight behind DequantizeLinear.
  const products = qdq ? new Set<string>() : integerProducts(g, axes);
  const initializers: P.onnx.ITensorProto[] = [];
  const dequantize: P.onnx.INodeProto[] = [];
  const mine: string[] = [];
  const blocks = plan.granularity === 'block';
  const nbits = new Map<string, Record<string, number>>(); // weight → MatMulNBits attributes
  for (const proto of g.initializer ?? []) {
    const name = proto.name ?? '';
    // One tensor in memory at a time: read (inline or external), write, drop.
    const t = tensorFromProto(file, proto, name);
    const axis = axes.get(name);
    if (axis === undefined) {
      const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      initializers.push(raw.length >= 1024 ? append(name, t.dtype, t.shape, raw) : { name, dataType: DTYPES[t.dtype].onnx, dims: t.shape, rawData: raw.slice() });
      continue;
    }
    // Blocks are for products (MatMulNBits); other weights (Conv) get int8 per channel.
    const granularity = plan.granularity === 'auto' || plan.granularity === 'block' ? 'channel' : plan.granularity;
    if (blocks && products.has(name)) {
      // MatMulNBits takes the weight as [N, K] rows: a Gemm's transB weight as stored, a MatMul's transposed.
      const [n, k] = axis === 0 ? [t.shape[0]!, t.shape[1]!] : [t.shape[1]!, t.shape[0]!];
      const rows = axis === 0 ? (t.data as Float32Array) : transposeData(t.data as Float32Array, t.shape, [1, 0]);
      const wq = nbitsWeight(name, rows, n, k, plan);
      initializers.push(append(`${name}_quantized`, 'uint8', wq.codes.shape, wq.codes.data));
      initializers.push(small(`${name}_scales`, 'float32', wq.scales.shape, wq.scales.data));
      initializers.push(small(`${name}_zero_points`, 'uint8', wq.zeroPoints.shape, wq.zeroPoints.data));
      nbits.set(name, wq.attrs);
      s.nbits = true;
      mine.push(name);
      continue;
    }
    if (products.has(name)) {
      // Written [K, N] as uint8 codes + 128, zero point 128. A Gemm's transB weight [N, K] is quantized
      // as stored (channels on axis 0) and its codes transposed: a quarter of the float's bytes.
      const [k, n] = axis === 0 ? [t.shape[1]!, t.shape[0]!] : [t.shape[0]!, t.shape[1]!];
      const q = quantizeWeights(name, t.data as Float32Array, t.shape, plan, granularity, axis);
      const stored = toUint8Codes(q.codes);
      const codes = axis === 0 ? transposeData(stored, t.shape, [1, 0]) : stored;
      initializers.push(append(`${name}_quantized`, 'uint8', [k, n], codes));
      initializers.push({ name: `${name}_scale`, dataType: DTYPES.float32.onnx, dims: q.params.scale.length > 1 ? [n] : [], rawData: new Uint8Array(q.params.scale.buffer.slice(0)) });
      initializers.push({ name: `${name}_zero_point`, dataType: DTYPES.uint8.onnx, dims: [], rawData: Uint8Array.of(128) });
      mine.push(name);
      continue;
    }
    const q = quantizeWeights(name, t.data as Float32Array, t.shape, blocks ? { ...plan, bits: 8 } : plan, granularity, axis);
    const perChannel = q.params.scale.length > 1;
    const scaleDims = perChannel ? [q.params.scale.length] : [];
    initializers.push(append(`${name}_quantized`, 'int8', t.shape, new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength)));
    initializers.push({ name: `${name}_scale`, dataType: DTYPES.float32.onnx, dims: scaleDims, rawData: new Uint8Array(q.params.scale.buffer.slice(0)) });
    initializers.push({ name: `${name}_zero_point`, dataType: DTYPES.int8.onnx, dims: scaleDims, rawData: new Uint8Array(q.params.scale.length) });
    dequantize.push({
      name: `${name}_DequantizeLinear`, opType: 'DequantizeLinear', input: [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], output: [name],
      attribute: perChannel ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }] : [],
    });
    mine.push(name);
  }
  quantized.push(...mine);
  g.initializer = initializers;
  // Old exports list initializers among the graph inputs; a quantized weight is now computed.
  const computed = new Set(mine);
  if (top) g.input = (g.input ?? []).filter((i) => !computed.has(i.name ?? ''));
  // int8: each activation read by a quantized product goes through QuantizeLinear → DequantizeLinear
  // once, placed right after the node that computes it (or first, for a graph input).
  const activationQdq = new Map<string, P.onnx.INodeProto[]>();
  const quantizedActivation = (x: string): string => {
    if (!activationQdq.has(x)) {
      const p = activationParams(plan.ranges.get(x)!);
      initializers.push(small(`${x}_scale`, 'float32', [], Float32Array.of(p.scale)), small(`${x}_zero_point`, 'int8', [], Int8Array.of(p.zeroPoint)));
      activationQdq.set(x, [
        { name: `${x}_QuantizeLinear`, opType: 'QuantizeLinear', input: [x, `${x}_scale`, `${x}_zero_point`], output: [`${x}_quantized`] },
        { name: `${x}_DequantizeLinear`, opType: 'DequantizeLinear', input: [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`], output: [`${x}_dequantized`] },
      ]);
    }
    return `${x}_dequantized`;
  };
  const rewritten = (g.node ?? []).flatMap((n, i) => {
    const w = n.input?.[1] ?? '';
    const attrs = nbits.get(w);
    if (attrs) return nbitsProduct(n, w, i, attrs);
    if (products.has(w)) return integerProduct(n, w, i);
    const x = n.input?.[0] ?? '';
    if (qdq && computed.has(w) && plan.ranges.has(x)) return [{ ...n, input: [quantizedActivation(x), ...n.input!.slice(1)] }];
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '';
    keptNodes[key] = (keptNodes[key] ?? 0) + 1;
    return [n];
  });
  const atInputs = [...activationQdq].filter(([x]) => !rewritten.some((n) => n.output?.includes(x))).flatMap(([, q]) => q);
  g.node = [...dequantize, ...atInputs, ...rewritten.flatMap((n) => [n, ...(n.output ?? []).flatMap((o) => activationQdq.get(o) ?? [])])];
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !products.has(v.name ?? '')); // no longer a value of the graph
}

export function streamQuantizeOnnx(file: string, out: string, plan: QuantPlan): StreamResult {
  if (plan.mode !== 'dynamic' && plan.mode !== 'int8') throw usageError('the ONNX rewriter writes --mode dynamic (with --granularity block for MatMulNBits) and --mode int8 (QDQ)');
  const qdq = plan.mode === 'int8';
  if (plan.granularity === 'block') {
    const bs = plan.blockSize;
    if (![2, 4, 8].includes(plan.bits)) throw usageError(`onnxruntime's MatMulNBits packs 2, 4 or 8 bits per code; got --bits ${plan.bits}`);
    // NOTE: onnxruntime-node 1.30 refuses to load MatMulNBits with block_size above 256.
    if (bs < 16 || bs > 256 || (bs & (bs - 1)) !== 0) throw usageError(`onnxruntime's MatMulNBits needs a block size that is a power of two from 16 to 256; got --block-size ${bs}`);
  }
  // Weights stay in the file until their turn: memory holds one tensor, inline or external.
  const model = decodeModelLazily(file);
  const opset = num((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 13) throw new EdgelmError('unsupported', `${file}: per-channel DequantizeLinear needs ONNX opset 13 or later (the model has ${opset})`);
  const g = model.graph!;
  const location = `${basename(out)}.data`;
  const dataPath = join(dirname(resolve(out)), location);
  const tmpData = `${dataPath}.${process.pid}.tmp`;
  const tmpModel = join(dirname(resolve(out)), `.${basename(out)}.${process.pid}.tmp`);
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  const append = (name: string, dtype: keyof typeof DTYPES, dims: number[], data: Uint8Array): P.onnx.ITensorProto => {
    const pad = (16 - (offset % 16)) % 16;
    if (pad) writeSync(fd, new Uint8Array(pad), 0, pad, offset);
    offset += pad;
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
    const t: P.onnx.ITensorProto = {
      name, dataType: DTYPES[dtype].onnx, dims, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(data.length) }],
    };
    offset += data.length;
    return t;
  };
  const state: RewriteState = { plan, qdq, file, append, quantized: [], keptNodes: {}, nbits: false, subgraphWeights: 0 };
  try {
    rewriteGraph(g, state, true);
  } catch (e) {
    closeSync(fd);
    rmSync(tmpData, { force: true }); // a failed run leaves nothing behind
    throw e;
  }
  closeSync(fd);
  const { quantized, keptNodes } = state;
  if (state.nbits && !(model.opsetImport ?? []).some((o) => o.domain === MS_DOMAIN)) model.opsetImport = [...(model.opsetImport ?? []), { domain: MS_DOMAIN, version: 1 }];
  model.producerName = 'edgelm';
  const bytes = onnx.ModelProto.encode(model).finish();
  try {
    const mfd = openSync(tmpModel, 'w');
    try {
      writeSync(mfd, bytes);
    } finally {
      closeSync(mfd);
    }
    renameSync(tmpData, dataPath);
    renameSync(tmpModel, resolve(out));
  } catch (e) {
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
    throw e;
  }
  return { files: [resolve(out), dataPath], bytes: bytes.length + offset, quantized: quantized.length, weights: quantized, keptNodes, subgraphWeightsKept: state.subgraphWeights };
}

/**
 * The rewriter with its inputs prepared: in int8 mode the activation ranges of the quantized
 * products' inputs are calibrated in onnxruntime on `calibration` (running min/max).
 */
export async function rewriteOnnx(file: string, out: string, plan: QuantPlan, opts: { calibration?: Dataset; calibrationLimit?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<StreamResult> {
  if (plan.mode === 'int8') {
    if (!opts.calibration) throw usageError('--mode int8 needs --calibration DATA: activation ranges come from running the model on real samples');
    const g = decodeModelLazily(file).graph!;
    const axes = weightAxes(g, plan, false);
    const names = [...new Set((g.node ?? []).filter((n) => axes.has(n.input?.[1] ?? '')).map((n) => n.input![0]!))];
    const { calibrateOnnx } = await import('./calibrate-ort.js');
    plan = { ...plan, ranges: await calibrateOnnx(file, opts.calibration, names, { ...(opts.calibrationLimit ? { limit: opts.calibrationLimit } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }) };
  }
  return streamQuantizeOnnx(file, out, plan);
}
