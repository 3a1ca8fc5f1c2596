// ONNX → IR for the Reduce family, ArgMax/ArgMin, CumSum and Trilu. ReduceL1/L2/LogSum/LogSumExp/
// SumSquare are compositions of IR ops (so every writer has them). Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { isFloatDType, type DType } from '../../ir/dtype.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import type { Node } from '../../ir/graph.js';
import { MAX_FOLDED_ELEMENTS, attrInt, attrInts, constInts, constScalar, constTensor, emit, type OnnxCtx, type Translate } from './ctx.js';
import { attr } from '../../export/onnx/proto.js';
import type { Emit, Writer } from '../../export/onnx/writer.js';

const badInput = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

/** A scalar 0 for values of `dtype`; float constants are float32, as the reader keeps them (the ONNX writer re-types them). */
const zeroFor = (c: OnnxCtx, dtype: DType): string =>
  c.b.addConstant({ ...constTensor(c, isFloatDType(dtype) ? 'float32' : dtype, [], [0]), name: `${c.name}/zero` });

/** An intermediate IR node of the ONNX node. */
const step = (c: OnnxCtx, op: OpType, inputs: string[], suffix: string, attrs: Attrs = {}): string =>
  c.b.add1(op, inputs, attrs, { name: `${c.name}/${suffix}`, source: c.name });

/** Axes from the attribute, or (from opset `fromInputSince`) from constant input 1; [] = every axis. */
function reduceAxes(c: OnnxCtx, fromInputSince: number): number[] {
  return c.opset >= fromInputSince ? constInts(c, 1, 'axes') ?? [] : attrInts(c, 'axes', []);
}

/** ReduceMean/Max/Min/Sum/Prod: one IR op; noop_with_empty_axes and no axes is the identity. */
function reduce(op: OpType, axesFromInputSince: number): Translate {
  return (c) => {
    const axes = reduceAxes(c, axesFromInputSince);
    if (!axes.length && attrInt(c, 'noop_with_empty_axes', 0) === 1) return c.bind(0, c.input(0));
    emit(c, op, [c.input(0)], { axes, keepDims: attrInt(c, 'keepdims', 1) === 1 });
  };
}

/**
 * A reduction composed as post(sum(pre(x))). With noop_with_empty_axes and no axes the spec says the
 * output is the input, where onnxruntime applies pre/post: refused rather than picking one.
 */
function composite(pre: OpType | undefined, post: OpType | undefined): Translate {
  return (c) => {
    const axes = reduceAxes(c, 18);
    if (!axes.length && attrInt(c, 'noop_with_empty_axes', 0) === 1) throw c.fail('noop_with_empty_axes=1 with no axes is not supported (the spec and onnxruntime disagree)');
    const attrs = { axes, keepDims: attrInt(c, 'keepdims', 1) === 1 };
    const x = pre ? step(c, pre, [c.input(0)], pre) : c.input(0);
    if (!post) return void emit(c, 'reduceSum', [x], attrs);
    emit(c, post, [step(c, 'reduceSum', [x], 'sum', attrs)]);
  };
}

/**
 * log Σ exp(x), as m + log Σ exp(x − m) with m the maximum so that large x does not overflow; an
 * infinite m is taken as 0, else −∞ − −∞ (all −∞, want −∞) or ∞ − ∞ (want ∞) would be NaN.
 */
function reduceLogSumExp(c: OnnxCtx): void {
  const axes = reduceAxes(c, 18);
  if (!axes.length && attrInt(c, 'noop_with_empty_axes', 0) === 1) throw c.fail('noop_with_empty_axes=1 with no axes is not supported (the spec and onnxruntime disagree)');
  const keepDims = attrInt(c, 'keepdims', 1) === 1;
  const x = c.input(0);
  const { dtype, shape } = c.typeOf(x);
  const kept = step(c, 'reduceMax', [x], 'max', { axes, keepDims: true });
  const zero = zeroFor(c, dtype);
  const m = step(c, 'where', [step(c, 'isInf', [kept], 'max_is_inf'), zero, kept], 'shift');
  const e = step(c, 'exp', [step(c, 'sub', [x, m], 'shifted')], 'exp');
  const ls = step(c, 'log', [step(c, 'reduceSum', [e], 'sum', { axes, keepDims })], 'log');
  const all = axes.length ? axes : shape.map((_, i) => i);
  emit(c, 'add', [ls, keepDims ? m : step(c, 'squeeze', [m], 'shift_squeezed', { axes: all })]);
}

function argReduce(op: 'argMax' | 'argMin'): Translate {
  return (c) =>
    void emit(c, op, [c.input(0)], { axis: attrInt(c, 'axis', 0), keepDims: attrInt(c, 'keepdims', 1) === 1, selectLastIndex: attrInt(c, 'select_last_index', 0) === 1 });
}

function cumSum(c: OnnxCtx): void {
  const axis = constScalar(c, 1, 'axis (input 1)');
  if (!Number.isInteger(axis)) throw badInput(c, `axis ${axis} is not an integer`);
  emit(c, 'cumSum', [c.input(0)], { axis, exclusive: attrInt(c, 'exclusive', 0) === 1, reverse: attrInt(c, 'reverse', 0) === 1 });
}

/** Trilu: a select between x and 0 by a constant [rows, cols] mask of kept positions (j − i ≥ k upper, ≤ k lower). */
function trilu(c: OnnxCtx): void {
  const { dtype, shape } = c.typeOf(c.input(0));
  if (shape.length < 2) throw badInput(c, `input of rank ${shape.length}; Trilu needs rank ≥ 2`);
  const [rows, cols] = shape.slice(-2);
  if (typeof rows !== 'number' || typeof cols !== 'number') throw c.fail('the last two dims must be static (the mask is a constant)');
  if (rows * cols > MAX_FOLDED_ELEMENTS) throw c.fail(`a ${rows}×${cols} mask is larger than edgelm folds (${MAX_FOLDED_ELEMENTS} elements)`);
  const upper = attrInt(c, 'upper', 1) === 1;
  if (c.input(1) && !c.konst(1)) {
    // A run-time k: the mask compares a constant [rows, cols] of j − i with k as the model runs.
    const diff = c.b.addConstant({ name: `${c.name}/diagonal`, dtype: 'float32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, (_, p) => (p % cols) - Math.floor(p / cols)) });
    const kf = c.b.add1('cast', [c.input(1)], { to: 'float32' }, { name: `${c.name}/k`, source: c.name });
    const keep = c.b.add1(upper ? 'greaterEqual' : 'lessEqual', [diff, kf], {}, { name: `${c.name}/mask`, source: c.name });
    return void emit(c, 'where', [keep, c.input(0), zeroFor(c, dtype)]);
  }
  const k = c.input(1) ? constScalar(c, 1, 'k (input 1)') : 0;
  const mask = Uint8Array.from({ length: rows * cols }, (_, p) => {
    const d = (p % cols) - Math.floor(p / cols);
    return Number(upper ? d >= k : d <= k);
  });
  const m = c.b.addConstant({ name: `${c.name}/mask`, dtype: 'bool', shape: [rows, cols], data: mask });
  const zero = zeroFor(c, dtype);
  emit(c, 'where', [m, c.input(0), zero]);
}

export const REDUCE_OPS: Record<string, Translate> = {
  ReduceMean: reduce('reduceMean', 18),
  ReduceMax: reduce('reduceMax', 18),
  ReduceMin: reduce('reduceMin', 18),
  ReduceSum: reduce('reduceSum', 13),
  ReduceProd: reduce('reduceProd', 18),
  ReduceL1: composite('abs', undefined),
  ReduceL2: composite('square', 'sqrt'),
  ReduceSumSquare: composite('square', undefined),
  ReduceLogSum: composite(undefined, 'log'),
  ReduceLogSumExp: reduceLogSumExp,
  ArgMax: argReduce('argMax'),
  ArgMin: argReduce('argMin'),
  CumSum: cumSum,
  Trilu: trilu,
};

// ─── ONNX writer: IR reduce ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
function writeArgReduce(w: Writer, n: Node, a: Record<string, unknown>, type: string): void {
  const attrs = { axis: attr.i(a.axis as number), keepdims: attr.i(a.keepDims ? 1 : 0), select_last_index: attr.i(a.selectLastIndex ? 1 : 0) };
  w.b.node(type, [n.inputs[0]!], n.outputs, attrs, n.name);
}

/** Opset 17 ReduceMean/Max/Min take axes as an attribute (ReduceSum as an input). */
function reduceAttr(w: Writer, n: Node, a: Record<string, unknown>, type: string): void {
  const axes = a.axes as number[];
  w.b.node(type, [n.inputs[0]!], n.outputs, { keepdims: attr.i(a.keepDims ? 1 : 0), ...(axes.length ? { axes: attr.ints(axes) } : {}) }, n.name);
}

export const REDUCE_EMIT: Partial<Record<OpType, Emit>> = {
  reduceMean: (w, n, a) => reduceAttr(w, n, a, 'ReduceMean'),
  reduceMax: (w, n, a) => reduceAttr(w, n, a, 'ReduceMax'),
  reduceMin: (w, n, a) => reduceAttr(w, n, a, 'ReduceMin'),
  reduceSum: (w, n, a) => {
    const axes = a.axes as number[];
    w.b.node('ReduceSum', axes.length ? [n.inputs[0]!, w.ints('axes', axes)] : [n.inputs[0]!], n.outputs, { keepdims: attr.i(a.keepDims ? 1 : 0) }, n.name);
  },
  reduceProd: (w, n, a) => reduceAttr(w, n, a, 'ReduceProd'),
  argMax: (w, n, a) => writeArgReduce(w, n, a, 'ArgMax'),
  argMin: (w, n, a) => writeArgReduce(w, n, a, 'ArgMin'),
  cumSum: (w, n, a) => {
    const axis = w.init('axis', 'int64', [], BigInt64Array.of(BigInt(a.axis as number)));
    w.b.node('CumSum', [n.inputs[0]!, axis], n.outputs, { exclusive: attr.i(a.exclusive ? 1 : 0), reverse: attr.i(a.reverse ? 1 : 0) }, n.name);
  },
};
