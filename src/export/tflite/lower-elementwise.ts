// TFLite lowerings of activations, math, logic, the softmax relatives and resampling (the ops of
// src/ir/ops/activations.ts, math.ts and resample.ts): a builtin where TFLite has the function, else
// a short composition of builtins that computes the same formula. Merged into TFLITE_LOWERINGS (lower.ts).
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { axisTable, depthToSpacePlan, spaceToDepthPlan, type ResizeAttrs } from '../../ir/ops/resample.js';
import type { OpType } from '../../ir/registry.js';
import { castValue, opts, tflType, type Lowerer, type Lowering } from './lower.js';
import type { OptionField } from './flatbuffer.js';
import { OPTIONS, type BuiltinOp } from './schema.js';

type Options = { type: number; fields: OptionField[] } | undefined;
// Built without lower.ts's helpers: this module is evaluated before lower.ts, which imports it.
const NO_ACTIVATION = (type: number): Options => ({ type, fields: [[0, 'i8', 0]] });
const ARITH: Partial<Record<BuiltinOp, Options>> = {
  ADD: NO_ACTIVATION(OPTIONS.AddOptions), SUB: NO_ACTIVATION(OPTIONS.SubOptions), MUL: NO_ACTIVATION(OPTIONS.MulOptions), DIV: NO_ACTIVATION(OPTIONS.DivOptions),
};

/**
 * Builds a chain of same-shape ops on node input 0 in its physical order (every operand is the input,
 * an intermediate or a scalar, which broadcasts whatever the order); `done` places the result.
 */
function chain(l: Lowerer, n: Node) {
  const x = l.placement(n.inputs[0]!);
  const out = n.outputs[0]!;
  const shape = x.perm.map((d) => l.shapeOf(out)[d]!);
  const dtype = l.dtypeOf(n.inputs[0]!);
  let k = 0;
  return {
    x: x.tensor,
    /** A scalar in the input's dtype (or `as`). */
    scalar(v: number, as: DType = dtype): number {
      return l.constTensor(`${n.name}/c${k++}`, as, [], scalarData(as, v));
    },
    ones(): number {
      return l.floatConst(`${n.name}/ones${k++}`, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1), shape);
    },
    op(op: BuiltinOp, inputs: number[], resultDType: DType = dtype, options: Options = ARITH[op]): number {
      const t = l.activation(`${n.name}/${op.toLowerCase()}${k++}`, shape, resultDType);
      l.emit(op, inputs, [t], options);
      return t;
    },
    done(t: number): void {
      l.place(out, t, x.perm);
    },
  };
}

function scalarData(dtype: DType, v: number): TypedArray {
  if (dtype === 'bool') return Uint8Array.of(v ? 1 : 0);
  if (dtype === 'int64') return BigInt64Array.of(BigInt(v));
  return (DTYPES[dtype].array as unknown as { of(v: number): TypedArray }).of(v);
}

/** A composition on float32 (or int32) values: refuses the 8/16-bit integers TFLite's kernels take only quantized. */
function composed(build: (c: ReturnType<typeof chain>, a: Record<string, unknown>) => number): Lowering {
  return (l, n, a) => {
    const dtype = l.dtypeOf(n.inputs[0]!);
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'int64') throw l.fail(n, `${dtype} values have no TFLite kernels for this composition`);
    const c = chain(l, n);
    c.done(build(c, a));
  };
}

/** sqrt((1 − x)(1 + x)), accurate near |x| = 1 where 1 − x² cancels. */
const cosOfAsin = (c: ReturnType<typeof chain>): number => c.op('SQRT', [c.op('MUL', [c.op('SUB', [c.scalar(1), c.x]), c.op('ADD', [c.scalar(1), c.x])])]);

/** log(t + sqrt(t² + 1)), for t ≥ 0 (asinh). */
const asinhOfNonNegative = (c: ReturnType<typeof chain>, t: number): number => c.op('LOG', [c.op('ADD', [t, c.op('SQRT', [c.op('ADD', [c.op('MUL', [t, t]), c.scalar(1)])])])]);

const num = (a: Record<string, unknown>, k: string): number => a[k] as number;

/** A same-shape builtin whose TFLite kernel takes only the listed types (the rest are refused, not miscomputed). */
const builtin = (op: BuiltinOp, types: readonly DType[] = ['float32']): Lowering => (l, n) => {
  const dtype = l.dtypeOf(n.inputs[0]!);
  if (!types.includes(dtype)) throw l.fail(n, `TFLite's ${op} has no kernel for ${dtype} values`);
  l.elementwise(n, op);
};

/** A broadcasting comparison or logic op on two inputs. */
const pairwise = (op: BuiltinOp, optionType: number): Lowering => (l, n) => l.binary(n, op, () => opts(optionType));

export const ELEMENTWISE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  hardSwish: builtin('HARD_SWISH'),
  hardSigmoid: composed((c, a) => c.op('MINIMUM', [c.op('MAXIMUM', [c.op('ADD', [c.op('MUL', [c.x, c.scalar(num(a, 'alpha'))]), c.scalar(num(a, 'beta'))]), c.scalar(0)]), c.scalar(1)])),
  selu: composed((c, a) => {
    const positive = c.op('GREATER', [c.x, c.scalar(0)], 'bool', undefined);
    const negative = c.op('MUL', [c.op('SUB', [c.op('EXP', [c.x]), c.scalar(1)]), c.scalar(num(a, 'gamma') * num(a, 'alpha'))]);
    return c.op('SELECT_V2', [positive, c.op('MUL', [c.x, c.scalar(num(a, 'gamma'))]), negative], 'float32', opts(OPTIONS.SelectV2Options));
  }),
  celu: composed((c, a) => {
    const e = c.op('MUL', [c.op('SUB', [c.op('EXP', [c.op('DIV', [c.x, c.scalar(num(a, 'alpha'))])]), c.scalar(1)]), c.scalar(num(a, 'alpha'))]);
    return c.op('ADD', [c.op('RELU', [c.x], 'float32', undefined), c.op('MINIMUM', [e, c.scalar(0)])]);
  }),
  softsign: composed((c) => c.op('DIV', [c.x, c.op('ADD', [c.op('ABS', [c.x]), c.scalar(1)])])),
  thresholdedRelu: composed((c, a) => c.op('SELECT_V2', [c.op('GREATER', [c.x, c.scalar(num(a, 'alpha'))], 'bool', undefined), c.x, c.scalar(0)], undefined, opts(OPTIONS.SelectV2Options))),
  shrink: composed((c, a) => {
    const [lambd, bias] = [num(a, 'lambd'), num(a, 'bias')];
    const above = c.op('SELECT_V2', [c.op('GREATER', [c.x, c.scalar(lambd)], 'bool', undefined), c.op('SUB', [c.x, c.scalar(bias)]), c.scalar(0)], undefined, opts(OPTIONS.SelectV2Options));
    return c.op('SELECT_V2', [c.op('LESS', [c.x, c.scalar(-lambd)], 'bool', undefined), c.op('ADD', [c.x, c.scalar(bias)]), above], undefined, opts(OPTIONS.SelectV2Options));
  }),
  sin: builtin('SIN'),
  cos: builtin('COS'),
  tan: composed((c) => c.op('DIV', [c.op('SIN', [c.x], 'float32', undefined), c.op('COS', [c.x], 'float32', undefined)])),
  // ATAN2 does not broadcast: atan(x) = atan2(x, 1) with a tensor of ones.
  atan: composed((c) => c.op('ATAN2', [c.x, c.ones()], 'float32', undefined)),
  asin: composed((c) => c.op('ATAN2', [c.x, cosOfAsin(c)], 'float32', undefined)),
  acos: composed((c) => c.op('ATAN2', [cosOfAsin(c), c.x], 'float32', undefined)),
  sinh: composed((c) => c.op('MUL', [c.op('SUB', [c.op('EXP', [c.x]), c.op('EXP', [c.op('NEG', [c.x])])]), c.scalar(0.5)])),
  cosh: composed((c) => c.op('MUL', [c.op('ADD', [c.op('EXP', [c.x]), c.op('EXP', [c.op('NEG', [c.x])])]), c.scalar(0.5)])),
  // asinh is odd: computed on |x| (where t + sqrt(t² + 1) does not cancel) and given x's sign.
  asinh: composed((c) => {
    const magnitude = asinhOfNonNegative(c, c.op('ABS', [c.x]));
    return c.op('SELECT_V2', [c.op('LESS', [c.x, c.scalar(0)], 'bool', undefined), c.op('NEG', [magnitude]), magnitude], undefined, opts(OPTIONS.SelectV2Options));
  }),
  acosh: composed((c) => c.op('LOG', [c.op('ADD', [c.x, c.op('SQRT', [c.op('MUL', [c.op('SUB', [c.x, c.scalar(1)]), c.op('ADD', [c.x, c.scalar(1)])])])])])),
  atanh: composed((c) => c.op('MUL', [c.op('LOG', [c.op('DIV', [c.op('ADD', [c.scalar(1), c.x]), c.op('SUB', [c.scalar(1), c.x])])]), c.scalar(0.5)])),
  floor: builtin('FLOOR'),
  ceil: builtin('CEIL'),
  sign: builtin('SIGN', ['float32', 'int32']),
  isNaN: composed((c) => c.op('NOT_EQUAL', [c.x, c.x], 'bool', undefined)),
  isInf: composed((c, a) => {
    const test = (v: number): number => c.op('EQUAL', [c.x, c.scalar(v)], 'bool', undefined);
    if (a.detectPositive && a.detectNegative) return c.op('EQUAL', [c.op('ABS', [c.x]), c.scalar(Infinity)], 'bool', undefined);
    if (a.detectPositive) return test(Infinity);
    if (a.detectNegative) return test(-Infinity);
    return c.op('NOT_EQUAL', [c.x, c.x], 'bool', undefined); // neither: false, except that NaN ≠ NaN
  }),
  logicalNot: builtin('LOGICAL_NOT', ['bool']),
  logicalAnd: pairwise('LOGICAL_AND', OPTIONS.LogicalAndOptions),
  logicalOr: pairwise('LOGICAL_OR', OPTIONS.LogicalOrOptions),
  logicalXor: pairwise('NOT_EQUAL', OPTIONS.NotEqualOptions),
  greaterEqual: pairwise('GREATER_EQUAL', OPTIONS.GreaterEqualOptions),
  lessEqual: pairwise('LESS_EQUAL', OPTIONS.LessEqualOptions),
  mod: lowerMod,
  logSoftmax: (l, n, a) => {
    // LOG_SOFTMAX works on the last physical axis: the value is read in an order that puts `axis` last.
    const x = l.placement(n.inputs[0]!);
    const rank = x.perm.length;
    const axis = num(a, 'axis') < 0 ? num(a, 'axis') + rank : num(a, 'axis');
    const perm = x.perm[rank - 1] === axis ? x.perm : [...x.perm.filter((d) => d !== axis), axis];
    const out = n.outputs[0]!;
    const t = l.activation(out, perm.map((d) => l.shapeOf(out)[d]!), 'float32');
    l.emit('LOG_SOFTMAX', [l.get(n.inputs[0]!, perm)], [t], opts(OPTIONS.LogSoftmaxOptions));
    l.place(out, t, perm);
  },
  hardmax: (l, n, a) => {
    // One-hot of ARG_MAX (the first maximum, as ONNX): its index compared with each position along the axis.
    const shape = l.shapeOf(n.inputs[0]!);
    const rank = shape.length;
    const axis = num(a, 'axis') < 0 ? num(a, 'axis') + rank : num(a, 'axis');
    const reducedShape = shape.filter((_, i) => i !== axis);
    const kept = shape.map((d, i) => (i === axis ? 1 : d));
    const index = l.activation(`${n.name}/argmax`, reducedShape, 'int32');
    l.emit('ARG_MAX', [l.get(n.inputs[0]!), l.int32Const(`${n.name}/axis`, [axis], [])], [index], opts(OPTIONS.ArgMaxOptions, [[0, 'i8', DTYPES.int32.tflite]]));
    const keptIndex = l.activation(`${n.name}/argmax_kept`, kept, 'int32');
    l.emit('RESHAPE', [index, l.int32Const(`${n.name}/kept_shape`, kept)], [keptIndex], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', kept]]));
    const positions = l.int32Const(`${n.name}/positions`, Array.from({ length: shape[axis]! }, (_, i) => i), shape.map((d, i) => (i === axis ? d : 1)));
    const hit = l.activation(`${n.name}/hit`, shape, 'bool');
    l.emit('EQUAL', [keptIndex, positions], [hit], opts(OPTIONS.EqualOptions));
    const out = n.outputs[0]!;
    const t = l.activation(out, shape, l.dtypeOf(out));
    l.emit('CAST', [hit], [t], opts(OPTIONS.CastOptions, [[0, 'i8', DTYPES.bool.tflite], [1, 'i8', tflType(l.dtypeOf(out))]]));
    l.place(out, t);
  },
  depthToSpace: (l, n, a) => {
    // TFLite's DEPTH_TO_SPACE (NHWC) takes channel (i·b + j)·C' + c for pixel (i, j): ONNX's DCR order.
    if (a.mode !== 'DCR') return rearrange(l, n, depthToSpacePlan(l.shapeOf(n.inputs[0]!), num(a, 'blockSize'), 'CRD'));
    blockOp(l, n, 'DEPTH_TO_SPACE', OPTIONS.DepthToSpaceOptions, num(a, 'blockSize'));
  },
  spaceToDepth: (l, n, a) => blockOp(l, n, 'SPACE_TO_DEPTH', OPTIONS.SpaceToDepthOptions, num(a, 'blockSize')),
  resize: lowerResize,
};

/** DEPTH_TO_SPACE / SPACE_TO_DEPTH on the NHWC view of an NCHW value. */
function blockOp(l: Lowerer, n: Node, op: 'DEPTH_TO_SPACE' | 'SPACE_TO_DEPTH', optionType: number, b: number): void {
  const x = l.nhwc(n.inputs[0]!, 'NCHW');
  const o = l.spatialOut(n, 'NCHW');
  l.emit(op, [x], [o.tensor], opts(optionType, [[0, 'i32', b]]));
  o.place();
}

/** RESHAPE → 6-D TRANSPOSE → RESHAPE in logical order (DepthToSpace's CRD order). */
function rearrange(l: Lowerer, n: Node, p: { view: (number | string)[]; perm: number[]; out: (number | string)[] }): void {
  const [view, out] = [p.view as number[], p.out as number[]];
  const dtype = l.dtypeOf(n.inputs[0]!);
  const viewed = l.activation(`${n.name}/view`, view, dtype);
  l.emit('RESHAPE', [l.get(n.inputs[0]!), l.int32Const(`${n.name}/view_shape`, view)], [viewed], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', view]]));
  const moved = l.activation(`${n.name}/moved`, p.perm.map((d) => view[d]!), dtype);
  l.emit('TRANSPOSE', [viewed, l.int32Const(`${n.name}/perm`, p.perm)], [moved], opts(OPTIONS.TransposeOptions));
  const t = l.activation(n.outputs[0]!, out, dtype);
  l.emit('RESHAPE', [moved, l.int32Const(`${n.name}/out_shape`, out)], [t], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  l.place(n.outputs[0]!, t);
}

/**
 * Mod: FLOOR_MOD (the divisor's sign); fmod (the dividend's sign) subtracts the divisor where the
 * remainder is non-zero and the operands' signs differ. 8/16-bit integers run in int32 between CASTs.
 */
function lowerMod(l: Lowerer, n: Node, a: Record<string, unknown>): void {
  const dtype = l.dtypeOf(n.outputs[0]!);
  const narrow = dtype === 'int8' || dtype === 'uint8' || dtype === 'int16' || dtype === 'uint16';
  if (!narrow && dtype !== 'float32' && dtype !== 'int32' && dtype !== 'int64') throw l.fail(n, `${dtype} remainders have no TFLite kernel`);
  const work: DType = narrow ? 'int32' : dtype;
  const [x, y] = narrow ? [castValue(l, n, 0, 'int32'), castValue(l, n, 1, 'int32')] : [n.inputs[0]!, n.inputs[1]!];
  const shape = l.shapeOf(n.outputs[0]!);
  const result = narrow ? `${n.name}/int32` : n.outputs[0]!;
  const [tx, ty] = [l.get(x), l.get(y)];
  const tensor = (name: string, d: DType = work): number => l.activation(`${n.name}/${name}`, shape, d);
  let r = a.fmod ? tensor('floor_mod') : l.activation(result, shape, work);
  l.emit('FLOOR_MOD', [tx, ty], [r], opts(OPTIONS.FloorModOptions));
  if (a.fmod) {
    const zero = l.constTensor(`${n.name}/zero`, work, [], scalarData(work, 0));
    const cmp = (op: BuiltinOp, ins: number[], name: string, sub = shape): number => {
      const t = l.activation(`${n.name}/${name}`, sub, 'bool');
      l.emit(op, ins, [t]);
      return t;
    };
    const nonzero = cmp('NOT_EQUAL', [r, zero], 'nonzero');
    const signsDiffer = cmp('NOT_EQUAL', [cmp('LESS', [tx, zero], 'x_negative', l.shapeOf(x)), cmp('LESS', [ty, zero], 'y_negative', l.shapeOf(y))], 'signs_differ');
    const adjust = cmp('LOGICAL_AND', [nonzero, signsDiffer], 'adjust');
    const shifted = tensor('shifted');
    l.emit('SUB', [r, ty], [shifted], ARITH.SUB);
    const t = l.activation(result, shape, work);
    l.emit('SELECT_V2', [adjust, shifted, r], [t], opts(OPTIONS.SelectV2Options));
    r = t;
  }
  l.types.set(result, { dtype: work, shape });
  l.place(result, r);
  if (narrow) castValue(l, { ...n, inputs: [result] }, 0, dtype, n.outputs[0]!);
}

/**
 * Resize as ONNX defines it, one axis at a time: GATHER of each tap's input index, times its weight,
 * summed; SELECT_V2 puts tf_crop_and_resize's extrapolation value where a sample falls outside.
 * Tables come from the IR's own definition (axisTable), so every mode and transform is the same
 * arithmetic in float32.
 */
function lowerResize(l: Lowerer, n: Node, attrs: Record<string, unknown>): void {
  const a = attrs as unknown as ResizeAttrs;
  const inShape = l.shapeOf(n.inputs[0]!);
  const dtype = l.dtypeOf(n.inputs[0]!);
  const builtin = resizeBuiltin(a, inShape, dtype);
  if (builtin) {
    const o = l.spatialOut(n, 'NCHW');
    const [h, w] = [(a.sizes as number[])[2]!, (a.sizes as number[])[3]!];
    const flags: OptionField[] = builtin.op === 'RESIZE_BILINEAR' ? [[2, 'bool', builtin.alignCorners], [3, 'bool', builtin.halfPixelCenters]] : [[0, 'bool', builtin.alignCorners], [1, 'bool', builtin.halfPixelCenters]];
    const type = builtin.op === 'RESIZE_BILINEAR' ? OPTIONS.ResizeBilinearOptions : OPTIONS.ResizeNearestNeighborOptions;
    l.emit(builtin.op, [l.nhwc(n.inputs[0]!, 'NCHW'), l.int32Const(`${n.name}/size`, [h, w])], [o.tensor], opts(type, flags));
    return o.place();
  }
  let cur = l.get(n.inputs[0]!);
  let shape = [...inShape];
  (a.sizes as number[]).forEach((outSize, axis) => {
    const table = axisTable(a, axis, inShape[axis]!, outSize);
    if (!table) return;
    shape = shape.map((d, i) => (i === axis ? outSize : d));
    const along = shape.map((d, i) => (i === axis ? d : 1));
    const tag = `${n.name}/axis${axis}`;
    const terms = table.taps.map((taps, k) => {
      const g = l.activation(`${tag}/tap${k}`, shape, dtype);
      l.emit('GATHER', [cur, l.int32Const(`${tag}/taps${k}`, Array.from(taps))], [g], opts(OPTIONS.GatherOptions, [[0, 'i32', axis]]));
      if (table.taps.length === 1) return g;
      const w = l.activation(`${tag}/weighted${k}`, shape, dtype);
      l.emit('MUL', [g, l.floatConst(`${tag}/weights${k}`, table.weights[k]!, along)], [w], ARITH.MUL);
      return w;
    });
    cur = terms.reduce((sum, t, k) => {
      const s = l.activation(`${tag}/sum${k}`, shape, dtype);
      l.emit('ADD', [sum, t], [s], ARITH.ADD);
      return s;
    });
    if (table.outside.some((o) => o)) {
      const s = l.activation(`${tag}/extrapolated`, shape, dtype);
      const mask = l.constTensor(`${tag}/outside`, 'bool', along, table.outside);
      l.emit('SELECT_V2', [mask, l.floatConst(`${tag}/extrapolation`, Float32Array.of(a.extrapolationValue), []), cur], [s], opts(OPTIONS.SelectV2Options));
      cur = s;
    }
  });
  l.place(n.outputs[0]!, cur);
}

/**
 * The TFLite builtin that computes this resize exactly, if any: a 4-D NCHW value resized in H and W
 * only, with scales equal to output/input. TFLite's kernels (resize_bilinear.cc, resize_nearest_neighbor.cc)
 * sample at i·s or (i + ½)·s − ½ (half_pixel_centers), s = in/out, or i·(in − 1)/(out − 1) (align_corners),
 * which are ONNX's asymmetric, half_pixel (pytorch_half_pixel for sizes > 1) and align_corners. Nearest
 * floors i·s in float32, exact only where s is a power of two (out = in·2^k); then ONNX's
 * asymmetric/floor is TFLite's default, and half_pixel (either rounding: no ties for even factors) or
 * tf_half_pixel_for_nn/floor is half_pixel_centers.
 */
function resizeBuiltin(a: ResizeAttrs, inShape: number[], dtype: DType): { op: 'RESIZE_BILINEAR' | 'RESIZE_NEAREST_NEIGHBOR'; alignCorners: boolean; halfPixelCenters: boolean } | undefined {
  const sizes = a.sizes as number[];
  if (inShape.length !== 4 || dtype !== 'float32' || sizes[0] !== inShape[0] || sizes[1] !== inShape[1] || a.excludeOutside) return undefined;
  if (a.scales.slice(0, 2).some((s) => s !== 1 && s !== 0)) return undefined;
  const spatial = [2, 3];
  if (spatial.some((i) => a.scales[i] !== 0 && a.scales[i]! * inShape[i]! !== sizes[i])) return undefined;
  const m = a.coordinateMode;
  if (a.mode === 'linear') {
    if (spatial.some((i) => sizes[i]! < 2)) return undefined;
    if (m === 'asymmetric') return { op: 'RESIZE_BILINEAR', alignCorners: false, halfPixelCenters: false };
    if (m === 'half_pixel' || m === 'pytorch_half_pixel') return { op: 'RESIZE_BILINEAR', alignCorners: false, halfPixelCenters: true };
    if (m === 'align_corners') return { op: 'RESIZE_BILINEAR', alignCorners: true, halfPixelCenters: false };
    return undefined;
  }
  if (a.mode !== 'nearest') return undefined;
  const powerOfTwo = (k: number): boolean => Number.isInteger(k) && k >= 2 && (k & (k - 1)) === 0;
  if (!spatial.every((i) => sizes[i]! % inShape[i]! === 0 && powerOfTwo(sizes[i]! / inShape[i]!))) return undefined;
  const rounding = a.nearestMode === 'round_prefer_floor' || a.nearestMode === 'round_prefer_ceil';
  if (m === 'asymmetric' && a.nearestMode === 'floor') return { op: 'RESIZE_NEAREST_NEIGHBOR', alignCorners: false, halfPixelCenters: false };
  if (((m === 'half_pixel' || m === 'pytorch_half_pixel') && rounding) || (m === 'tf_half_pixel_for_nn' && a.nearestMode === 'floor'))
    return { op: 'RESIZE_NEAREST_NEIGHBOR', alignCorners: false, halfPixelCenters: true };
  return undefined;
}
