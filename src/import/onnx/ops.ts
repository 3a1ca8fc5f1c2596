// ONNX op → IR, one entry per ONNX op type. Shape arithmetic is folded before these run
// (shapes.ts); constants (Constant nodes, casts and transposes of constants) fold here, so the IR
// only holds real computation. The structure and nn families' readers are in ops-structure.ts and
// ops-nn.ts; this file keeps the elementwise family's (reader and writer) and the quantized graphs'.
import { EdgelmError } from '../../errors.js';
import type { GraphBuilder } from '../../ir/builder.js';
import { DTYPES, dtypeFromOnnx, type DType } from '../../ir/dtype.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { sizeOf, type QuantParams, type Tensor } from '../../ir/tensor.js';
import { ELEMENTWISE_OPS } from './ops-elementwise.js';
import { REDUCE_OPS } from './ops-reduce.js';
import { RESAMPLE_OPS } from './ops-resample.js';
import { LOSS_OPS } from './ops-loss.js';
import { INSTANCENORM_OPS } from './ops-instancenorm.js';
import { RECURRENT_OPS } from './ops-recurrent.js';
import { EINSUM_OPS } from './ops-einsum.js';
import { TOPK_OPS } from './ops-topk.js';
import { INDEXING_OPS } from './ops-indexing.js';
import { SCATTER_OPS } from './ops-scatter.js';
import { CONV_OPS } from './ops-conv.js';
import { QLINEAR_OPS } from './ops-qlinear.js';
import { STRUCTURE_OPS } from './ops-structure.js';
import { NN_OPS } from './ops-nn.js';
import { attr } from '../../export/onnx/proto.js';
import { simple, type Emit } from '../../export/onnx/writer.js';
import { attrFloat, binary, unary, attrInt, attrStr, bindConst, constScalar, emit, values, type OnnxCtx, type Translate } from './ctx.js';


const mul = binary('mul');

export const ONNX_OPS: Record<string, Translate> = {
  ...STRUCTURE_OPS,
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: (c) => void (dequantizeProduct(c) || mul(c)),
  Div: binary('div'),
  Pow: binary('pow'),
  Equal: binary('equal'),
  Less: binary('less'),
  Greater: binary('greater'),
  Max: (c) => variadic(c, 'maximum'),
  Min: (c) => variadic(c, 'minimum'),
  Sum: (c) => variadic(c, 'add'),
  Where: (c) => void emit(c, 'where', [c.input(0), c.input(1), c.input(2)]),
  Relu: unary('relu'),
  Sigmoid: unary('sigmoid'),
  Tanh: unary('tanh'),
  Erf: unary('erf'),
  Sqrt: unary('sqrt'),
  Abs: unary('abs'),
  Neg: unary('neg'),
  Exp: unary('exp'),
  Log: unary('log'),
  Reciprocal: unary('reciprocal'),
  Softplus: unary('softplus'),
  LeakyRelu: unary('leakyRelu', (c) => ({ alpha: attrFloat(c, 'alpha', 0.01) })),
  Elu: unary('elu', (c) => ({ alpha: attrFloat(c, 'alpha', 1) })),
  Gelu: unary('gelu', (c) => ({ approximate: attrStr(c, 'approximate', 'none') })),
  PRelu: (c) => void emit(c, 'prelu', [c.input(0), c.input(1)]),
  Clip: (c) => {
    let min = -Infinity;
    let max = Infinity;
    if (c.opset >= 11) {
      // Run-time bounds: min(max(x, min), max), the order ONNX defines (max wins when min > max).
      if ((c.input(1) && !c.konst(1)) || (c.input(2) && !c.konst(2))) return clipRunTime(c);
      if (c.input(1)) min = constScalar(c, 1, 'min');
      if (c.input(2)) max = constScalar(c, 2, 'max');
    } else {
      min = attrFloat(c, 'min', -Infinity);
      max = attrFloat(c, 'max', Infinity);
    }
    emit(c, 'clip', [c.input(0)], { min, max });
  },
  ...NN_OPS,
  DequantizeLinear: dequantizeLinear,
  QuantizeLinear: quantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  ...ELEMENTWISE_OPS,
  ...RESAMPLE_OPS,
  ...LOSS_OPS,
  ...INSTANCENORM_OPS,
  ...RECURRENT_OPS,
  ...EINSUM_OPS,
  ...TOPK_OPS,
  ...REDUCE_OPS,
  ...INDEXING_OPS,
  ...SCATTER_OPS,
  ...CONV_OPS,
  ...QLINEAR_OPS,
};


// ─── ONNX writer: IR elementwise ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const ELEMENTWISE_EMIT: Partial<Record<OpType, Emit>> = {
  relu: simple('Relu'),
  sigmoid: simple('Sigmoid'),
  tanh: simple('Tanh'),
  erf: simple('Erf'),
  abs: simple('Abs'),
  neg: simple('Neg'),
  round: simple('Round'),
  exp: simple('Exp'),
  log: simple('Log'),
  sqrt: simple('Sqrt'),
  reciprocal: simple('Reciprocal'),
  softplus: simple('Softplus'),
  identity: simple('Identity'),
  elu: simple('Elu', (a) => ({ alpha: attr.f(a.alpha as number) })),
  leakyRelu: simple('LeakyRelu', (a) => ({ alpha: attr.f(a.alpha as number) })),
  prelu: simple('PRelu'),
  relu6: (w, n) => void w.b.node('Clip', [n.inputs[0]!, w.scalar('zero', 0), w.scalar('six', 6)], n.outputs, {}, n.name),
  clip: (w, n, a) => {
    const lo = a.min === -Infinity ? '' : w.scalarLike('min', a.min as number, n.inputs[0]!);
    const hi = a.max === Infinity ? '' : w.scalarLike('max', a.max as number, n.inputs[0]!);
    w.b.node('Clip', hi ? [n.inputs[0]!, lo, hi] : lo ? [n.inputs[0]!, lo] : [n.inputs[0]!], n.outputs, {}, n.name);
  },
  rsqrt: (w, n) => void w.b.node('Reciprocal', [w.op('Sqrt', [n.inputs[0]!])], n.outputs, {}, n.name),
  square: (w, n) => void w.b.node('Mul', [n.inputs[0]!, n.inputs[0]!], n.outputs, {}, n.name),
  swish: (w, n) => void w.b.node('Mul', [n.inputs[0]!, w.op('Sigmoid', [n.inputs[0]!])], n.outputs, {}, n.name),
  gelu: (w, n, a) => {
    // Opset 17 has no Gelu: write PyTorch's decomposition.
    const x = n.inputs[0]!;
    let inner: string;
    if (a.approximate === 'tanh') {
      const cube = w.op('Mul', [w.op('Mul', [x, x]), x]);
      const poly = w.op('Add', [x, w.op('Mul', [cube, w.scalar('c', 0.044715)])]);
      inner = w.op('Tanh', [w.op('Mul', [poly, w.scalar('k', Math.sqrt(2 / Math.PI))])]);
    } else inner = w.op('Erf', [w.op('Div', [x, w.scalar('sqrt2', Math.SQRT2)])]);
    w.b.node('Mul', [w.op('Mul', [x, w.scalar('half', 0.5)]), w.op('Add', [inner, w.scalar('one', 1)])], n.outputs, {}, n.name);
  },
  add: simple('Add'),
  sub: simple('Sub'),
  mul: simple('Mul'),
  div: simple('Div'),
  pow: simple('Pow'),
  maximum: simple('Max'),
  minimum: simple('Min'),
  equal: simple('Equal'),
  less: simple('Less'),
  greater: simple('Greater'),
  where: simple('Where'),
};

function variadic(c: OnnxCtx, op: OpType): void {
  if (c.inputs.length === 1) return c.bind(0, c.input(0));
  let acc = c.input(0);
  for (let i = 1; i < c.inputs.length; i++) {
    const last = i === c.inputs.length - 1;
    acc = last ? emit(c, op, [acc, c.input(i)])[0]! : c.b.add1(op, [acc, c.input(i)], {}, { name: `${c.name}/${i}`, source: c.name });
  }
}

// ─── Quantized graphs ───────────────────────────────────────────────────────────────────────────
// Integer weights behind DequantizeLinear (QDQ), com.microsoft MatMulNBits, and onnxruntime
// quantize_dynamic's DynamicQuantizeLinear → MatMulInteger → Cast → Mul are read as float IR:
//   • a constant dequantized at import becomes a float32 constant tagged with the QuantParams it was
//     stored with (what `inspect` reports), so the graph holds the float source's parameters;
//   • activations keep the file's arithmetic, so the executor matches onnxruntime within float
//     rounding: a quantized activation is a float32 tensor of integers (round half to even, clip).

/** Saturation range of the integer types Q/DQ read and write (ONNX QuantizeLinear). */
const QRANGE: Partial<Record<DType, [number, number]>> = { int8: [-128, 127], uint8: [0, 255], int32: [-2147483648, 2147483647] };

/**
 * What the reader made of quantized values, so that the next node of the same pattern can fold
 * (one map per file read). Values a fold leaves unused are pruned with their nodes.
 */
type QuantFact =
  /** round(x / scale) of a QuantizeLinear, before its zero point and saturation. */
  | { kind: 'quantized'; rounded: string; scale: string; zeroPoint: number[]; range: [number, number] }
  /** A DynamicQuantizeLinear's codes q, with (q − zero point)·scale its dequantized value. */
  | { kind: 'dynamic'; scale: string; zeroPoint: string }
  /** A DynamicQuantizeLinear's scale. */
  | { kind: 'dynamicScale' }
  /** MatMulInteger of dynamic codes (centred: q − zero point) by constant B (weight: B − zero point). */
  | { kind: 'intMatMul'; centred: string; scale: string; weight: Tensor; zeroPoint: number[]; source: string }
  /** A dynamic scale times a constant: the dequantization factor of a MatMulInteger. */
  | { kind: 'scaleProduct'; scale: string; factor: Tensor };
const factTables = new WeakMap<GraphBuilder, Map<string, QuantFact>>();
function facts(c: OnnxCtx): Map<string, QuantFact> {
  let m = factTables.get(c.b);
  if (!m) factTables.set(c.b, (m = new Map()));
  return m;
}

/** A node of the quantized arithmetic, named after the ONNX node. */
const step = (c: OnnxCtx, op: OpType, inputs: string[], suffix: string, attrs: Attrs = {}): string =>
  c.b.add1(op, inputs, attrs, { name: `${c.name}/${suffix}`, source: c.name });

/** Clip with a run-time bound: Maximum by min, then Minimum by max; a constant bound stays a clip. */
function clipRunTime(c: OnnxCtx): void {
  const lower = c.input(1) && !c.konst(1) ? 'maximum' : undefined;
  const upper = c.input(2) && !c.konst(2) ? 'minimum' : undefined;
  const min = c.input(1) && !lower ? constScalar(c, 1, 'min') : -Infinity;
  const max = c.input(2) && !upper ? constScalar(c, 2, 'max') : Infinity;
  let v = c.input(0);
  if (lower) v = step(c, 'maximum', [v, c.input(1)], 'min');
  else if (min !== -Infinity) v = step(c, 'clip', [v], 'min', { min, max: Infinity });
  if (upper) return void emit(c, 'minimum', [v, c.input(2)]);
  emit(c, 'clip', [v], { min: -Infinity, max });
}

function constValues(c: OnnxCtx, i: number, what: string): { t: Tensor; v: number[] } {
  const t = c.konst(i);
  if (!t) throw c.fail(`${what} (input ${i}) must be a constant`);
  return { t, v: values(t) };
}

const badInput = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

/**
 * Maps each element (flat index) of a tensor of `shape` to its quantization parameter: per tensor
 * (one), per axis (1-D along `axis`) or blocked (the tensor's rank, `blockSize` elements along
 * `axis` sharing one) — the granularities of ONNX QuantizeLinear/DequantizeLinear.
 */
function paramIndex(c: OnnxCtx, shape: number[], paramShape: number[], axis: number, blockSize: number): (i: number) => number {
  if (sizeOf(paramShape) === 1 && !blockSize) return () => 0;
  const rank = shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw badInput(c, `axis ${axis} is out of range for rank ${rank}`);
  const dim = shape[a]!;
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  if (!blockSize) {
    if (paramShape.length !== 1 || paramShape[0] !== dim) throw badInput(c, `scale of shape [${paramShape}] does not match axis ${a} of [${shape}]`);
    return (i) => Math.floor(i / inner) % dim;
  }
  const blocks = Math.ceil(dim / blockSize);
  if (paramShape.length !== rank || paramShape.some((d, k) => d !== (k === a ? blocks : shape[k])))
    throw badInput(c, `blocked scale of shape [${paramShape}] does not match [${shape}] with block_size ${blockSize} on axis ${a}`);
  return (i) => (Math.floor(i / (inner * dim)) * blocks + Math.floor((Math.floor(i / inner) % dim) / blockSize)) * inner + (i % inner);
}

/** A float constant holding per-tensor or per-axis parameters, shaped to broadcast against a rank-`rank` value. */
function paramConst(c: OnnxCtx, name: string, v: number[], rank: number, axis: number): string {
  const a = axis < 0 ? axis + rank : axis;
  const shape = v.length === 1 ? [] : Array.from({ length: rank }, (_, k) => (k === a ? v.length : 1));
  const existing = c.b.constant(name);
  if (existing && existing.shape.length === shape.length && values(existing).every((x, i) => x === v[i])) return name;
  return c.b.addConstant({ name, dtype: 'float32', shape, data: Float32Array.from(v) });
}

/** A scale or zero point that arrives as a graph input (the backend suite passes them so), not a constant. */
const runTimeParams = (c: OnnxCtx): boolean => [1, 2].some((i) => c.input(i) && !c.konst(i));

/** Input i (a scale or zero point, constant or run-time) as float32, shaped to broadcast along `axis`. */
function paramRunTime(c: OnnxCtx, i: number, rank: number, axis: number): string {
  const { dtype, shape } = c.typeOf(c.input(i));
  const v = dtype === 'float32' ? c.input(i) : step(c, 'cast', [c.input(i)], `param${i}_float`, { to: 'float32' });
  if (shape.length === 0 || (shape.length === 1 && shape[0] === 1)) return v;
  const a = axis < 0 ? axis + rank : axis;
  if (shape.length !== 1 || a < 0 || a >= rank) throw badInput(c, `parameter (input ${i}) of shape [${shape}] does not fit axis ${axis} of rank ${rank}`);
  return step(c, 'reshape', [v], `param${i}_axis`, { shape: Array.from({ length: rank }, (_, k) => (k === a ? shape[0]! : 1)) });
}

/** DequantizeLinear: y = (x − zero_point) · scale (opsets 10, 13 per axis, 19, 21 blocked). */
function dequantizeLinear(c: OnnxCtx): void {
  const axis = c.opset >= 13 ? attrInt(c, 'axis', 1) : 1;
  const blockSize = c.opset >= 21 ? attrInt(c, 'block_size', 0) : 0;
  if (runTimeParams(c)) {
    if (blockSize) throw c.fail('blocked DequantizeLinear with a run-time scale or zero point is not supported');
    const x = c.input(0);
    const rank = c.typeOf(x).shape.length;
    let v = c.typeOf(x).dtype === 'float32' ? x : step(c, 'cast', [x], 'float', { to: 'float32' });
    if (c.input(2)) v = step(c, 'sub', [v, paramRunTime(c, 2, rank, axis)], 'centre');
    return void emit(c, 'mul', [v, paramRunTime(c, 1, rank, axis)]);
  }
  const { t: scaleT, v: scale } = constValues(c, 1, 'x_scale');
  const zp = c.input(2) ? constValues(c, 2, 'x_zero_point').v : [];
  const q = c.konst(0);
  if (q) {
    // A stored weight: folded to float32, tagged with how it was stored.
    if (!QRANGE[q.dtype]) throw c.fail(`dequantizing ${q.dtype} is not supported (int8, uint8, int32)`);
    const at = paramIndex(c, q.shape, scaleT.shape, axis, blockSize);
    const codes = values(q);
    // In float32 like onnxruntime: the integer difference is exact, the product rounds once.
    const data = Float32Array.from(codes, (v, i) => Math.fround(v - (zp[at(i)] ?? 0)) * scale[at(i)]!);
    const quant: QuantParams = { scale: Float32Array.from(scale), zeroPoint: Int32Array.from(scale, (_, i) => zp[i] ?? 0), bits: 8 * DTYPES[q.dtype].bytes, stored: { name: c.inputs[0]!, dtype: q.dtype } };
    if (scale.length > 1) quant.axis = axis < 0 ? axis + q.shape.length : axis;
    if (blockSize) quant.blockSize = blockSize;
    return bindConst(c, 0, { name: c.outputs[0]!, dtype: 'float32', shape: q.shape, data, quant });
  }
  if (blockSize) throw c.fail('blocked DequantizeLinear of a run-time tensor is not supported');
  const x = c.input(0);
  const rank = c.typeOf(x).shape.length;
  const s = paramConst(c, `${c.inputs[1]}/float`, scale, rank, axis);
  const fact = facts(c).get(x);
  const z = zp.length <= 1 ? zp[0] ?? 0 : undefined;
  if (fact?.kind === 'quantized' && fact.scale === s && z !== undefined && fact.zeroPoint.length <= 1 && (fact.zeroPoint[0] ?? 0) === z) {
    // QuantizeLinear → DequantizeLinear with the same parameters ("fake quantization", QDQ):
    // s·(clip(round(x/s) + z, lo, hi) − z) = s·clip(round(x/s), lo − z, hi − z), z an integer.
    const clipped = step(c, 'clip', [fact.rounded], 'saturate', { min: fact.range[0] - z, max: fact.range[1] - z });
    return void emit(c, 'mul', [clipped, s]);
  }
  let v = c.typeOf(x).dtype === 'float32' ? x : step(c, 'cast', [x], 'float', { to: 'float32' });
  if (zp.some((d) => d !== 0)) v = step(c, 'sub', [v, paramConst(c, `${c.inputs[2]}/float`, zp, rank, axis)], 'centre');
  emit(c, 'mul', [v, s]);
}

/** QuantizeLinear: y = saturate(round(x / scale) + zero_point), ties to even; the IR holds y in float32. */
function quantizeLinear(c: OnnxCtx): void {
  const axis = c.opset >= 13 ? attrInt(c, 'axis', 1) : 1;
  if (c.opset >= 21 && attrInt(c, 'block_size', 0)) throw c.fail('blocked QuantizeLinear is not supported');
  if (runTimeParams(c)) {
    const out = attrInt(c, 'output_dtype', 0);
    const dtype = c.input(2) ? c.typeOf(c.input(2)).dtype : out ? dtypeFromOnnx(out) : 'uint8';
    const range = dtype && dtype !== 'int32' ? QRANGE[dtype] : undefined;
    if (!range) throw c.fail(`quantizing to ${dtype ?? `ONNX type ${out}`} is not supported (int8, uint8)`);
    const rank = c.typeOf(c.input(0)).shape.length;
    const rounded = step(c, 'round', [step(c, 'div', [c.input(0), paramRunTime(c, 1, rank, axis)], 'scaled')], 'round');
    const shifted = c.input(2) ? step(c, 'add', [rounded, paramRunTime(c, 2, rank, axis)], 'shift') : rounded;
    return void emit(c, 'clip', [shifted], { min: range[0], max: range[1] });
  }
  const { v: scale } = constValues(c, 1, 'y_scale');
  const zpT = c.input(2) ? constValues(c, 2, 'y_zero_point').t : undefined;
  const zp = zpT ? values(zpT) : [];
  const out = attrInt(c, 'output_dtype', 0);
  const dtype = zpT?.dtype ?? (out ? dtypeFromOnnx(out) : 'uint8');
  const range = dtype && dtype !== 'int32' ? QRANGE[dtype] : undefined;
  if (!range) throw c.fail(`quantizing to ${dtype ?? `ONNX type ${out}`} is not supported (int8, uint8)`);
  const x = c.input(0);
  const rank = c.typeOf(x).shape.length;
  const s = paramConst(c, `${c.inputs[1]}/float`, scale, rank, axis);
  const rounded = step(c, 'round', [step(c, 'div', [x, s], 'scaled')], 'round');
  const shifted = zp.some((d) => d !== 0) ? step(c, 'add', [rounded, paramConst(c, `${c.inputs[2]}/float`, zp, rank, axis)], 'shift') : rounded;
  const [q] = emit(c, 'clip', [shifted], { min: range[0], max: range[1] });
  facts(c).set(q!, { kind: 'quantized', rounded, scale: s, zeroPoint: zp, range });
}

/**
 * DynamicQuantizeLinear (uint8): range widened to include 0, scale = range / 255, zero point =
 * round(saturate(−min / scale)), q = saturate(round(x / scale) + zero point); all in float32.
 */
function dynamicQuantizeLinear(c: OnnxCtx): void {
  const x = c.input(0);
  const axes = c.typeOf(x).shape.map((_, i) => i);
  const hi = step(c, 'relu', [step(c, 'reduceMax', [x], 'max', { axes, keepDims: false })], 'max0');
  const lo = step(c, 'relu', [step(c, 'neg', [step(c, 'reduceMin', [x], 'min', { axes, keepDims: false })], 'negmin')], 'negmin0');
  const qmax = paramConst(c, 'DynamicQuantizeLinear/qmax', [255], 0, 0);
  // onnxruntime takes scale 1 for an all-zero input; any positive scale quantizes it to zeros alike.
  const scale = step(c, 'clip', [step(c, 'div', [step(c, 'add', [hi, lo], 'range'), qmax], 'scale0')], 'scale', { min: 1.1754943508222875e-38, max: Infinity });
  const zp = step(c, 'round', [step(c, 'clip', [step(c, 'div', [lo, scale], 'zp0')], 'zp1', { min: 0, max: 255 })], 'zero_point');
  const q = step(c, 'clip', [step(c, 'add', [step(c, 'round', [step(c, 'div', [x, scale], 'scaled')], 'round'), zp], 'shift')], 'q', { min: 0, max: 255 });
  [q, scale, zp].forEach((v, i) => c.bind(i, v));
  facts(c).set(q, { kind: 'dynamic', scale, zeroPoint: zp });
  facts(c).set(scale, { kind: 'dynamicScale' });
}

/** MatMulInteger with a constant B: (A − a_zero_point)·(B − b_zero_point), summed in float32. */
function matMulInteger(c: OnnxCtx): void {
  const b = c.konst(1);
  if (!b || (b.dtype !== 'int8' && b.dtype !== 'uint8') || b.shape.length !== 2) throw c.fail('B must be a 2-D int8 or uint8 constant');
  const [k, n] = b.shape as [number, number];
  const bzp = c.input(3) ? constValues(c, 3, 'b_zero_point').v : [];
  if (bzp.length > 1 && bzp.length !== n) throw badInput(c, `b_zero_point holds ${bzp.length} values for ${n} columns`);
  const weight: Tensor = { name: `${c.inputs[1]}/centred`, dtype: 'float32', shape: [k, n], data: Float32Array.from(values(b), (q, i) => q - (bzp.length > 1 ? bzp[i % n]! : bzp[0] ?? 0)) };
  const a = c.input(0);
  let centred = c.typeOf(a).dtype === 'float32' ? a : step(c, 'cast', [a], 'float', { to: 'float32' });
  if (c.input(2)) {
    const azp = c.konst(2);
    if (azp && sizeOf(azp.shape) !== 1) throw c.fail('per-row a_zero_point is not supported');
    const z = azp ? paramConst(c, `${c.inputs[2]}/float`, values(azp), 0, 0) : c.input(2);
    centred = step(c, 'sub', [centred, z], 'centre');
  }
  // Exact while the integer sums stay below 2^24; beyond, float32 rounding (~6e-8 relative).
  const [y] = emit(c, 'matMul', [centred, c.b.addConstant(weight)]);
  const fact = facts(c).get(a);
  if (fact?.kind === 'dynamic') facts(c).set(y!, { kind: 'intMatMul', centred, scale: fact.scale, weight, zeroPoint: bzp, source: c.inputs[1]! });
}

/**
 * quantize_dynamic's dequantization Mul(Cast(MatMulInteger(q, B)), Mul(scale_A, scale_B)), scale_B
 * per tensor or per column: emitted as x̂·W with x̂ = (q − zp_A)·scale_A and W = (B − zp_B)·scale_B
 * folded (tagged int8), so the graph holds the float source's weight. Returns false for other Muls.
 */
function dequantizeProduct(c: OnnxCtx): boolean {
  const known = facts(c);
  const [fa, fb] = [known.get(c.input(0)), known.get(c.input(1))];
  const mm = fa?.kind === 'intMatMul' ? fa : fb?.kind === 'intMatMul' ? fb : undefined;
  const sp = fa?.kind === 'scaleProduct' ? fa : fb?.kind === 'scaleProduct' ? fb : undefined;
  if (mm && sp && sp.scale === mm.scale) {
    const n = mm.weight.shape[1]!;
    const factor = values(sp.factor);
    if (factor.length !== 1 && (factor.length !== n || sp.factor.shape.at(-1) !== n)) return false;
    const w = mm.weight.data as Float32Array;
    const data = Float32Array.from(w, (v, i) => v * factor[factor.length === 1 ? 0 : i % n]!);
    const quant: QuantParams = { scale: Float32Array.from(factor), zeroPoint: Int32Array.from(factor, (_, i) => mm.zeroPoint[i] ?? mm.zeroPoint[0] ?? 0), bits: 8 };
    if (factor.length > 1) quant.axis = 1;
    const weight = c.b.addConstant({ name: `${mm.source}/dequantized`, dtype: 'float32', shape: mm.weight.shape, data, quant });
    emit(c, 'matMul', [step(c, 'mul', [mm.centred, mm.scale], 'dequantize'), weight]);
    return true;
  }
  // scale_A · constant scale_B: remember it for the Mul above.
  const scaleAt = [0, 1].find((i) => known.get(c.input(i))?.kind === 'dynamicScale');
  const factor = scaleAt === undefined ? undefined : c.konst(1 - scaleAt);
  if (scaleAt === undefined || !factor || factor.shape.length > 1) return false;
  const [y] = emit(c, 'mul', [c.input(0), c.input(1)]);
  known.set(y!, { kind: 'scaleProduct', scale: c.input(scaleAt), factor });
  return true;
}

/**
 * com.microsoft MatMulNBits: A·Bᵀ with B [N, k_blocks, blob] holding `bits`-bit codes packed from the
 * lowest bits, per block of block_size along K a scale and an optional packed zero point (default
 * 2^(bits−1)); B folds to a float32 [K, N] constant and the IR computes matMul (+ bias).
 */
function matMulNBits(c: OnnxCtx): void {
  const K = attrInt(c, 'K', 0);
  const N = attrInt(c, 'N', 0);
  const bits = attrInt(c, 'bits', 4);
  const bs = attrInt(c, 'block_size', 0);
  if (![2, 4, 8].includes(bits)) throw c.fail(`bits ${bits} is not supported (2, 4, 8)`);
  if (K <= 0 || N <= 0 || bs < 16 || (bs & (bs - 1)) !== 0) throw badInput(c, `invalid K ${K}, N ${N} or block_size ${bs}`);
  if (c.input(4)) throw c.fail('g_idx is not supported');
  const b = c.konst(1);
  const sc = c.konst(2);
  if (!b || b.dtype !== 'uint8' || !sc || sc.dtype !== 'float32') throw c.fail('B (uint8) and scales (float32) must be constants');
  const kBlocks = Math.ceil(K / bs);
  const blob = (bs * bits) / 8;
  if (sizeOf(b.shape) !== N * kBlocks * blob) throw badInput(c, `B of shape [${b.shape}] does not hold [${N}, ${kBlocks}, ${blob}] bytes`);
  if (sizeOf(sc.shape) !== N * kBlocks) throw badInput(c, `scales of shape [${sc.shape}] do not hold ${N}·${kBlocks} values`);
  const zpBytes = Math.ceil((kBlocks * bits) / 8);
  const zpT = c.input(3) ? c.konst(3) : undefined;
  if (c.input(3) && (!zpT || zpT.dtype !== 'uint8')) throw c.fail('zero_points must be a packed uint8 constant');
  if (zpT && sizeOf(zpT.shape) !== N * zpBytes) throw badInput(c, `zero_points of shape [${zpT.shape}] do not hold ${N}·${zpBytes} packed bytes`);
  const mask = (1 << bits) - 1;
  const packed = b.data as Uint8Array;
  const scales = sc.data as Float32Array;
  const zps = zpT?.data as Uint8Array | undefined;
  // Element j of a packed row: bits j·bits … j·bits + bits − 1, lowest first (2, 4, 8 never straddle a byte).
  const code = (bytes: Uint8Array, base: number, j: number): number => (bytes[base + ((j * bits) >> 3)]! >> ((j * bits) & 7)) & mask;
  const zeroPoint = Int32Array.from({ length: N * kBlocks }, (_, i) => (zps ? code(zps, Math.floor(i / kBlocks) * zpBytes, i % kBlocks) : 1 << (bits - 1)));
  const w = new Float32Array(K * N);
  for (let r = 0; r < N; r++)
    for (let k = 0; k < K; k++) {
      const blk = r * kBlocks + Math.floor(k / bs);
      w[k * N + r] = Math.fround(code(packed, blk * blob, k % bs) - zeroPoint[blk]!) * scales[blk]!;
    }
  // Scales in the file's [N, k_blocks] order; blocks run along K, axis 0 of the [K, N] weight.
  const quant: QuantParams = { scale: Float32Array.from(scales), zeroPoint, bits, axis: 0, blockSize: bs, stored: { name: c.inputs[1]!, dtype: `uint${bits}` } };
  const weight = c.b.addConstant({ name: `${c.inputs[1]}/dequantized`, dtype: 'float32', shape: [K, N], data: w, quant });
  const a = c.input(0);
  if (c.typeOf(a).shape.at(-1) !== K) throw badInput(c, `A's last dim is ${c.typeOf(a).shape.at(-1)}, K is ${K}`);
  if (!c.input(5)) return void emit(c, 'matMul', [a, weight]);
  emit(c, 'add', [step(c, 'matMul', [a, weight], 'matmul'), c.input(5)]);
}

/** Ops of other domains the reader maps, keyed `domain.op`; any other is refused by name. */
export const ONNX_DOMAIN_OPS: Record<string, Translate> = {
  'com.microsoft.MatMulNBits': matMulNBits,
};
