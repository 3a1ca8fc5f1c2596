// Shape arithmetic of ONNX graphs, folded symbolically while reading. PyTorch writes every `view`,
// `expand` and mask as Shape → Gather → Unsqueeze → Concat → Reshape chains; with run-time dims
// these values hold symbols (`batch_size`, `past_sequence_length + sequence_length`) that stay
// symbols, so `[batch, seq, 768]` reads as that. A small integer tensor whose elements are Dims is a
// "dims value": constant when every element is a number, otherwise an IR `dimValues` node that the
// executor evaluates from the inputs' shapes and the ONNX writer computes at run time. Ops that
// consume shapes (Reshape, Expand, ConstantOfShape, Range, Slice bounds) take dims values directly.
import { EdgelmError } from '../../errors.js';
import type { GraphBuilder } from '../../ir/builder.js';
import { DTYPES, type DType } from '../../ir/dtype.js';
import { addDims, divDims, floorDivDim, isStaticDim, isStaticShape, mulDims, productDims, subDims, type Dim } from '../../ir/dim.js';
import { sliceBounds } from '../../ir/ops/structure.js';
import { sizeOf } from '../../ir/tensor.js';
import { MAX_FOLDED_ELEMENTS, attrInt, bindConst, constTensor, emit, values, type OnnxCtx } from './ctx.js';

/** A small tensor of dims: shape (0-D or 1-D in practice) and its elements in row-major order. */
export interface DimsValue {
  dtype: DType;
  shape: number[];
  dims: Dim[];
}

/** Largest tensor treated as shape arithmetic (shape vectors, masks of a few values). */
const MAX_DIMS_ELEMENTS = 65536;

const tables = new WeakMap<GraphBuilder, Map<string, DimsValue>>();
function table(c: OnnxCtx): Map<string, DimsValue> {
  let t = tables.get(c.b);
  if (!t) tables.set(c.b, (t = new Map()));
  return t;
}

/** Input i as a dims value: a small constant, or a symbolic value read earlier; else undefined. */
export function dimsOf(c: OnnxCtx, i: number): DimsValue | undefined {
  const v = c.input(i);
  if (!v) return undefined;
  const k = c.konst(i);
  if (k) return sizeOf(k.shape) <= MAX_DIMS_ELEMENTS && k.dtype !== 'float16' ? { dtype: k.dtype, shape: k.shape, dims: values(k) } : undefined;
  return table(c).get(v);
}

/** Integer dims of input i for an op that needs them (a Reshape target, an Expand shape). */
export function requiredDims(c: OnnxCtx, i: number, what: string): Dim[] {
  if (!c.input(i)) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what} (input ${i}) is missing`);
  const d = dimsOf(c, i);
  if (!d) throw c.fail(`${what} (input ${i}) is computed from run-time data, not from shapes; edgelm folds shape arithmetic only`);
  if (!d.dims.every((x) => !isStaticDim(x) || Number.isInteger(x))) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what} (input ${i}) must hold integers`);
  return d.dims;
}

/**
 * Input i as a run-time value tensor when it is not shape arithmetic (a shape, pads or bounds the
 * model is fed): the op then takes it as a value input and its output dims are run-time values
 * (src/ir/value-dims.ts). Undefined when absent or folded to dims.
 */
export function runTimeValues(c: OnnxCtx, i: number, what: string): string | undefined {
  if (!c.input(i) || dimsOf(c, i)) return undefined;
  const { shape } = c.typeOf(c.input(i));
  if (shape.length > 1 || (shape.length === 1 && !isStaticDim(shape[0]!)))
    throw c.fail(`${what} (input ${i}) is a run-time tensor of shape [${shape}]; a run-time shape needs a static length (the output's rank)`);
  return c.input(i);
}

/** Binds output i to a dims value: a constant when static, else a `dimValues` node. */
function bindDims(c: OnnxCtx, i: number, v: DimsValue): true {
  if (v.dims.every(isStaticDim)) {
    bindConst(c, i, constTensor(c, v.dtype, v.shape, (DTYPES[v.dtype].float ? v.dims : v.dims.map((d) => Math.trunc(d as number))) as number[]));
    return true;
  }
  const out = c.b.add('dimValues', [], { values: v.dims, shape: v.shape, dtype: v.dtype }, { name: c.outputs[i] || c.name, source: c.name, outputs: [c.outputs[i] || c.name] })[0]!;
  table(c).set(out, v);
  c.bind(i, out);
  return true;
}

const isInt = (d: DType): boolean => !DTYPES[d].float;

function broadcastShape(a: number[], b: number[], c: OnnxCtx): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[i - (n - a.length)] ?? 1;
    const y = b[i - (n - b.length)] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw c.fail(`shapes [${a}] and [${b}] do not broadcast`);
    return Math.max(x, y);
  });
}

/** Flat index into a tensor of `shape` broadcast to `out`, for output flat index i. */
function broadcastIndex(i: number, out: number[], shape: number[]): number {
  let idx = 0;
  let stride = 1;
  let rem = i;
  const coords = out.map((_, k) => {
    const s = out.slice(k + 1).reduce((p, d) => p * d, 1);
    const q = Math.floor(rem / s);
    rem -= q * s;
    return q;
  });
  const offset = out.length - shape.length;
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k]!;
    idx += (d === 1 ? 0 : coords[k + offset]!) * stride;
    stride *= d;
  }
  return idx;
}

/** Elementwise fold of inputs' dims; `fn` returns undefined where it cannot decide (the op then runs). */
function elementwise(c: OnnxCtx, ins: DimsValue[], dtype: DType, fn: (xs: Dim[]) => Dim | undefined): DimsValue | undefined {
  const shape = ins.slice(1).reduce((s, v) => broadcastShape(s, v.shape, c), ins[0]!.shape);
  const n = sizeOf(shape);
  if (n > MAX_DIMS_ELEMENTS) return undefined;
  const dims: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const d = fn(ins.map((v) => v.dims[broadcastIndex(i, shape, v.shape)]!));
    if (d === undefined) return undefined;
    dims.push(d);
  }
  return { dtype, shape, dims };
}

/** Binary arithmetic on dims: exact for integers (C-style truncating division, as ONNX Div on ints). */
function arithmetic(op: (a: Dim, b: Dim, int: boolean) => Dim | undefined): (c: OnnxCtx) => boolean {
  return (c) => {
    const [a, b] = [dimsOf(c, 0), dimsOf(c, 1)];
    if (!a || !b) return false;
    const int = isInt(a.dtype);
    // Float constants fold only when both are numbers (scales computed from constants).
    if (!int && !(a.dims.every(isStaticDim) && b.dims.every(isStaticDim))) return false;
    const v = elementwise(c, [a, b], a.dtype, ([x, y]) => op(x!, y!, int));
    return v ? bindDims(c, 0, v) : false;
  };
}

const divide = (a: Dim, b: Dim, int: boolean): Dim | undefined => {
  if (isStaticDim(a) && isStaticDim(b)) return int ? (b === 0 ? undefined : Math.trunc(a / b)) : a / b;
  if (!int) return undefined;
  return divDims(a, b) ?? (isStaticDim(b) && b > 0 ? floorDivDim(a, b) : undefined);
};

/** a == b on dims: a run-time dim is never negative; two symbols are equal when their forms are. */
function equalDims(a: Dim, b: Dim): number | undefined {
  if (isStaticDim(a) && isStaticDim(b)) return Number(a === b);
  if (a === b) return 1;
  if ((isStaticDim(a) && a < 0) || (isStaticDim(b) && b < 0)) return 0;
  return undefined;
}

function shapeOf(c: OnnxCtx): boolean {
  const shape = c.typeOf(c.input(0)).shape;
  const [b, e] = sliceBounds(shape.length, attrInt(c, 'start', 0), attrInt(c, 'end', shape.length), 1);
  const dims = shape.slice(b, Math.max(b, e));
  return bindDims(c, 0, { dtype: 'int64', shape: [dims.length], dims });
}

function gather(c: OnnxCtx): boolean {
  const data = dimsOf(c, 0);
  const idx = c.konst(1);
  if (!data || !idx || data.shape.length !== 1) return false;
  const n = data.dims.length;
  const picked = values(idx).map((i) => {
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw c.fail(`index ${i} is out of range for a shape value of ${n} elements`);
    return data.dims[j]!;
  });
  return bindDims(c, 0, { dtype: data.dtype, shape: idx.shape, dims: picked });
}

/**
 * Slice of a dims value of any rank by constant bounds, axes and steps (PyTorch's pads for
 * replicate/reflect padding reverse a [n, 2] table: Reshape → Slice(step −1) → Transpose).
 */
function sliceDims(c: OnnxCtx): boolean {
  const data = dimsOf(c, 0);
  // Beyond 1-D, only integer tables (shape arithmetic such as PyTorch's pads): a slice of a float weight stays a slice node.
  if (!data || c.opset < 10 || (data.shape.length !== 1 && !['int64', 'int32'].includes(data.dtype))) return false;
  const [starts, ends, axesT, stepsT] = [1, 2, 3, 4].map((i) => (c.input(i) ? c.konst(i) : undefined));
  if (!starts || !ends || (c.input(3) && !axesT) || (c.input(4) && !stepsT)) return false;
  const [b0, e0] = [values(starts), values(ends)];
  const rank = data.shape.length;
  const axes = axesT ? values(axesT).map((a) => (a < 0 ? a + rank : a)) : b0.map((_, i) => i);
  const steps = stepsT ? values(stepsT) : b0.map(() => 1);
  // Fractional or mismatched bounds (a damaged file) are refused by the general translation, not looped over here.
  const lists = [b0, e0, axes, steps];
  if (!lists.every((l) => l.length === b0.length && l.every(Number.isInteger)) || axes.some((a) => a < 0 || a >= rank) || new Set(axes).size !== axes.length) return false;
  if (steps.includes(0)) throw new EdgelmError('input', `${c.file}: node ${c.name} (Slice): step 0`);
  // The source indices kept along each axis.
  const kept = data.shape.map((d, ax) => {
    const k = axes.indexOf(ax);
    if (k < 0) return Array.from({ length: d }, (_, i) => i);
    const [b, e, s] = sliceBounds(d, b0[k]!, Math.max(-2147483648, Math.min(e0[k]!, 2147483647)), steps[k]!);
    const out: number[] = [];
    for (let i = b; s > 0 ? i < e : i > e; i += s) out.push(i);
    return out;
  });
  const shape = kept.map((k) => k.length);
  const strides = data.shape.map((_, ax) => data.shape.slice(ax + 1).reduce((p, d) => p * d, 1));
  const dims: Dim[] = [];
  for (let i = 0; i < sizeOf(shape); i++) {
    let rem = i;
    let at = 0;
    for (let ax = rank - 1; ax >= 0; ax--) {
      at += kept[ax]![rem % shape[ax]!]! * strides[ax]!;
      rem = Math.floor(rem / shape[ax]!);
    }
    dims.push(data.dims[at]!);
  }
  return bindDims(c, 0, { dtype: data.dtype, shape, dims });
}

function concat(c: OnnxCtx): boolean {
  if (!c.inputs.length) return false;
  const parts = c.inputs.map((_, i) => dimsOf(c, i));
  if (!parts.every((p): p is DimsValue => p !== undefined && p.shape.length === 1)) return false;
  const dims = parts.flatMap((p) => p.dims);
  return bindDims(c, 0, { dtype: parts[0]!.dtype, shape: [dims.length], dims });
}

/** Unsqueeze/Squeeze of a dims value: only its shape changes. */
function reshapeDims(newShape: (c: OnnxCtx, shape: number[]) => number[] | undefined): (c: OnnxCtx) => boolean {
  return (c) => {
    const v = dimsOf(c, 0);
    if (!v || c.konst(0)) return false; // constants fold in the general translation, any dtype
    const shape = newShape(c, v.shape);
    return shape ? bindDims(c, 0, { ...v, shape }) : false;
  };
}

function axesOf(c: OnnxCtx): number[] | undefined {
  if (c.opset >= 13) return c.input(1) ? (c.konst(1) ? values(c.konst(1)!) : undefined) : [];
  const a = c.attrs.get('axes');
  return Array.isArray(a) ? a : [];
}

const unsqueeze = reshapeDims((c, shape) => {
  const axes = axesOf(c);
  if (!axes) return undefined;
  const rank = shape.length + axes.length;
  const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  let j = 0;
  return Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : shape[j++]!));
});

const squeeze = reshapeDims((c, shape) => {
  const axes = axesOf(c);
  if (!axes) return undefined;
  const norm = axes.map((a) => (a < 0 ? a + shape.length : a));
  return shape.filter((d, i) => (norm.length ? !norm.includes(i) : d !== 1));
});

function cast(c: OnnxCtx): boolean {
  const v = dimsOf(c, 0);
  const to = attrInt(c, 'to', 1);
  // Integer to integer keeps the dims; casts to float of symbols run as ops.
  if (!v || c.konst(0) || !isInt(v.dtype) || ![6, 7].includes(to)) return false;
  return bindDims(c, 0, { ...v, dtype: to === 7 ? 'int64' : 'int32' });
}

function size(c: OnnxCtx): boolean {
  return bindDims(c, 0, { dtype: 'int64', shape: [], dims: [productDims(c.typeOf(c.input(0)).shape)] });
}

/** Neg of dims (`-axis` counts of LayerNormalization's function body). */
function negate(c: OnnxCtx): boolean {
  const a = dimsOf(c, 0);
  if (!a || !isInt(a.dtype)) return false;
  return bindDims(c, 0, { ...a, dims: a.dims.map((d) => subDims(0, d)) });
}

function equal(c: OnnxCtx): boolean {
  const [a, b] = [dimsOf(c, 0), dimsOf(c, 1)];
  if (!a || !b || !isInt(a.dtype)) return false;
  const v = elementwise(c, [a, b], 'bool', ([x, y]) => equalDims(x!, y!));
  return v ? bindDims(c, 0, v) : false;
}

function where(c: OnnxCtx): boolean {
  const [cond, x, y] = [dimsOf(c, 0), dimsOf(c, 1), dimsOf(c, 2)];
  if (!cond || !x || !y || !cond.dims.every(isStaticDim) || !isInt(x.dtype)) return false;
  const v = elementwise(c, [cond, x, y], x.dtype, ([k, a, b]) => (k ? a : b));
  return v ? bindDims(c, 0, v) : false;
}

// ─── Ops that consume shapes ───────────────────────────────────────────────────────────────────

function reshape(c: OnnxCtx): boolean {
  const values = c.opset >= 5 ? runTimeValues(c, 1, 'shape') : undefined;
  if (values) {
    if (attrInt(c, 'allowzero', 0) === 1) throw c.fail('Reshape with allowzero=1 and a run-time shape is not supported');
    return emit(c, 'reshape', [c.input(0), values]), true;
  }
  const shapeInput = c.opset >= 5 ? requiredDims(c, 1, 'shape') : undefined;
  const target = shapeInput ?? (Array.isArray(c.attrs.get('shape')) ? (c.attrs.get('shape') as number[]) : undefined);
  if (!target) throw new EdgelmError('input', `${c.file}: node ${c.name} (Reshape): shape is missing`);
  if (attrInt(c, 'allowzero', 0) === 1 && target.includes(0)) throw c.fail('Reshape with allowzero=1 and a zero dim is not supported');
  const x = dimsOf(c, 0);
  const k = c.konst(0);
  if ((x && !k) || (k && isStaticShape(target))) {
    // A reshaped dims value or constant: the elements stay, the shape changes.
    const from = x?.shape ?? k!.shape;
    const known = target.map((d, i) => (d === 0 ? from[i]! : d));
    if (isStaticShape(known)) {
      const rest = known.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      const shape = known.map((d) => (d === -1 ? sizeOf(from) / rest : d));
      if (k) return bindConst(c, 0, { ...k, shape }), true;
      return bindDims(c, 0, { ...x!, shape });
    }
  }
  emit(c, 'reshape', [c.input(0)], { shape: constantTarget(target, c.typeOf(c.input(0)).shape) });
  return true;
}

/**
 * A reshape target with as few run-time dims as exact: a symbol equal to the input's dim at its index
 * becomes 0 (copy), and a single remaining symbol becomes −1 (inferred). Writers then need no shape
 * computation for the usual `view(batch, seq, heads, dim)`.
 */
function constantTarget(target: readonly Dim[], input: readonly Dim[]): Dim[] {
  const out = target.map((d, i) => (!isStaticDim(d) && d === input[i] ? 0 : d));
  const symbolic = out.filter((d) => !isStaticDim(d)).length;
  return symbolic === 1 && !out.includes(-1) ? out.map((d) => (isStaticDim(d) ? d : -1)) : out;
}

function flatten(c: OnnxCtx): boolean {
  const shape = c.typeOf(c.input(0)).shape;
  const axis = attrInt(c, 'axis', 1);
  const a = axis < 0 ? axis + shape.length : axis;
  const lead = productDims(shape.slice(0, a));
  const tail = productDims(shape.slice(a));
  // A leading batch stays a copy of dim 0, so the batch need not be known to compute the product.
  const target: Dim[] = a === 1 ? [0, isStaticDim(tail) ? tail : -1] : isStaticDim(tail) ? [-1, tail] : [lead, -1];
  emit(c, 'reshape', [c.input(0)], { shape: target });
  return true;
}

function expand(c: OnnxCtx): boolean {
  const values = runTimeValues(c, 1, 'shape');
  if (values) return emit(c, 'expand', [c.input(0), values]), true;
  emit(c, 'expand', [c.input(0)], { shape: requiredDims(c, 1, 'shape') });
  return true;
}

function constantOfShape(c: OnnxCtx): boolean {
  const given = runTimeValues(c, 0, 'shape');
  const shape = given ? [] : requiredDims(c, 0, 'shape');
  if (shape.some((d) => isStaticDim(d) && d < 0)) throw new EdgelmError('input', `${c.file}: node ${c.name} (ConstantOfShape): negative dim in [${shape}]`);
  const v = c.attrs.get('value');
  const t = v && typeof v === 'object' && !Array.isArray(v) && 'dtype' in v ? v : undefined;
  const dtype = t?.dtype ?? 'float32';
  const fill = t ? values(t)[0] ?? 0 : 0;
  if (given) return emit(c, 'fill', [given], { value: fill, dtype }), true;
  if (!isStaticShape(shape)) {
    emit(c, 'fill', [], { shape, value: fill, dtype });
    return true;
  }
  // The element count comes from a few bytes of shape values: capped before anything is allocated.
  const n = sizeOf(shape);
  if (!Number.isFinite(n) || n > MAX_FOLDED_ELEMENTS)
    throw new EdgelmError('input', `${c.file}: node ${c.name} (ConstantOfShape): shape [${shape}] is larger than edgelm folds (${MAX_FOLDED_ELEMENTS} values)`);
  bindConst(c, 0, constTensor(c, dtype, shape, new Array<number>(n).fill(fill)));
  return true;
}

function range(c: OnnxCtx): boolean {
  if ([0, 1, 2].some((i) => runTimeValues(c, i, ['start', 'limit', 'delta'][i]!)))
    return emit(c, 'range', [c.input(0), c.input(1), c.input(2)], { dtype: c.typeOf(c.input(0)).dtype }), true;
  const [start, limit, delta] = (['start', 'limit', 'delta'] as const).map((what, i) => {
    const d = dimsOf(c, i);
    if (!d || d.dims.length !== 1) throw c.fail(`${what} (input ${i}) must be a scalar computed from constants or shapes`);
    return d.dims[0]!;
  }) as [Dim, Dim, Dim];
  const dtype = dimsOf(c, 0)!.dtype;
  if (!isStaticDim(delta) || delta === 0) throw c.fail(`delta ${delta} must be a non-zero constant`);
  if (!isStaticDim(start) || !isStaticDim(limit)) {
    emit(c, 'range', [], { start, limit, delta, dtype });
    return true;
  }
  // Checked before the loop: the count comes from the file's numbers.
  const count = Math.ceil((limit - start) / delta);
  if (!Number.isFinite(count) || count > MAX_FOLDED_ELEMENTS)
    throw new EdgelmError('input', `${c.file}: node ${c.name} (Range): start ${start}, limit ${limit}, delta ${delta} give ${count} values (edgelm folds at most ${MAX_FOLDED_ELEMENTS})`);
  const out: number[] = [];
  for (let v = start; delta > 0 ? v < limit : v > limit; v += delta) out.push(v);
  bindConst(c, 0, constTensor(c, dtype, [out.length], out));
  return true;
}

/**
 * Shape folds tried before an op's general translation (src/import/onnx/ops.ts): each returns true
 * when it bound the node's outputs. Consumers of shapes (Reshape, Expand, …) always do.
 */
export const SHAPE_FOLDS: Record<string, (c: OnnxCtx) => boolean> = {
  Shape: shapeOf,
  Size: size,
  Gather: gather,
  Slice: sliceDims,
  Concat: concat,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Cast: cast,
  Add: arithmetic((a, b) => addDims(a, b)),
  Sub: arithmetic((a, b) => subDims(a, b)),
  Mul: arithmetic((a, b) => mulDims(a, b)),
  Div: arithmetic(divide),
  Neg: negate,
  Equal: equal,
  Where: where,
  Reshape: reshape,
  Flatten: flatten,
  Expand: expand,
  ConstantOfShape: constantOfShape,
  Range: range,
};
