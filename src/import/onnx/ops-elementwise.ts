// ONNX → IR for activations, math, logic and comparisons (one IR op each), Mean, CastLike and the
// softmax relatives. Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { productDims } from '../../ir/dim.js';
import type { OpType } from '../../ir/registry.js';
import { attrFloat, attrInt, binary, bindConst, constTensor, emit, unary, values, type OnnxCtx, type Translate } from './ctx.js';
import { attr, type OnnxAttr } from '../../export/onnx/proto.js';
import type { Emit } from '../../export/onnx/writer.js';

/**
 * Before opset 13 these ops work on the input flattened to 2-D at `axis` (default 1): over the product
 * of the dims from `axis` on. That is the op on the last axis of a [lead, rest] reshape, reshaped back.
 */
function flattenedBefore13(op: OpType): Translate {
  return (c) => {
    const shape = c.typeOf(c.input(0)).shape;
    const axis = attrInt(c, 'axis', c.opset >= 13 ? -1 : 1);
    const a = axis < 0 ? axis + shape.length : axis;
    if (c.opset >= 13 || a === shape.length - 1) return void emit(c, op, [c.input(0)], { axis });
    if (a < 0 || a >= shape.length) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): axis ${axis} out of range for rank ${shape.length}`);
    const flat = c.b.add1('reshape', [c.input(0)], { shape: [productDims(shape.slice(0, a)), productDims(shape.slice(a))] }, { name: `${c.name}/flatten`, source: c.name });
    const y = c.b.add1(op, [flat], { axis: -1 }, { name: `${c.name}/2d`, source: c.name });
    emit(c, 'reshape', [y], { shape: [...shape] });
  };
}

/** Mean of any number of inputs: their broadcast sum divided by the count. */
function mean(c: OnnxCtx): void {
  if (c.inputs.length === 1) return c.bind(0, c.input(0));
  let sum = c.input(0);
  for (let i = 1; i < c.inputs.length; i++) sum = c.b.add1('add', [sum, c.input(i)], {}, { name: `${c.name}/sum${i}`, source: c.name });
  const count = c.b.addConstant({ name: `${c.name}/count`, dtype: 'float32', shape: [], data: Float32Array.of(c.inputs.length) });
  emit(c, 'div', [sum, count]);
}

/** Cast to the element type of input 1. */
function castLike(c: OnnxCtx): void {
  const to = c.typeOf(c.input(1)).dtype;
  const k = c.konst(0);
  if (k) {
    const v = values(k);
    return bindConst(c, 0, constTensor(c, to, k.shape, to === 'float32' || to === 'float64' ? v : v.map(Math.trunc)));
  }
  if (c.typeOf(c.input(0)).dtype === to) return c.bind(0, c.input(0));
  emit(c, 'cast', [c.input(0)], { to });
}

export const ELEMENTWISE_OPS: Record<string, Translate> = {
  HardSwish: unary('hardSwish'),
  HardSigmoid: unary('hardSigmoid', (c) => ({ alpha: attrFloat(c, 'alpha', 0.2), beta: attrFloat(c, 'beta', 0.5) })),
  Selu: unary('selu', (c) => ({ alpha: attrFloat(c, 'alpha', 1.67326319217681884765625), gamma: attrFloat(c, 'gamma', 1.05070102214813232421875) })),
  Celu: unary('celu', (c) => ({ alpha: attrFloat(c, 'alpha', 1) })),
  Softsign: unary('softsign'),
  ThresholdedRelu: unary('thresholdedRelu', (c) => ({ alpha: attrFloat(c, 'alpha', 1) })),
  Shrink: unary('shrink', (c) => ({ bias: attrFloat(c, 'bias', 0), lambd: attrFloat(c, 'lambd', 0.5) })),
  Sin: unary('sin'),
  Cos: unary('cos'),
  Tan: unary('tan'),
  Asin: unary('asin'),
  Acos: unary('acos'),
  Atan: unary('atan'),
  Sinh: unary('sinh'),
  Cosh: unary('cosh'),
  Asinh: unary('asinh'),
  Acosh: unary('acosh'),
  Atanh: unary('atanh'),
  Floor: unary('floor'),
  Round: unary('round'),
  Ceil: unary('ceil'),
  Sign: unary('sign'),
  IsNaN: unary('isNaN'),
  IsInf: unary('isInf', (c) => ({ detectPositive: attrInt(c, 'detect_positive', 1) === 1, detectNegative: attrInt(c, 'detect_negative', 1) === 1 })),
  Not: unary('logicalNot'),
  And: binary('logicalAnd'),
  Or: binary('logicalOr'),
  Xor: binary('logicalXor'),
  GreaterOrEqual: binary('greaterEqual'),
  LessOrEqual: binary('lessEqual'),
  Mod: (c) => void emit(c, 'mod', [c.input(0), c.input(1)], { fmod: attrInt(c, 'fmod', 0) === 1 }),
  Mean: mean,
  CastLike: castLike,
  LogSoftmax: flattenedBefore13('logSoftmax'),
  Hardmax: flattenedBefore13('hardmax'),
};

// ─── ONNX writer: IR activations ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
/** One ONNX node of the same name, inputs and outputs, with attributes from the IR's. */
const same = (type: string, attrs: (a: Record<string, unknown>) => Record<string, OnnxAttr> = () => ({})): Emit => (w, n, a) =>
  void w.b.node(type, n.inputs.filter(Boolean), n.outputs, attrs(a), n.name);
const f = (key: string) => (a: Record<string, unknown>): number => a[key] as number;

export const ACTIVATION_EMIT: Partial<Record<OpType, Emit>> = {
  hardSwish: same('HardSwish'),
  hardSigmoid: same('HardSigmoid', (a) => ({ alpha: attr.f(f('alpha')(a)), beta: attr.f(f('beta')(a)) })),
  selu: same('Selu', (a) => ({ alpha: attr.f(f('alpha')(a)), gamma: attr.f(f('gamma')(a)) })),
  celu: same('Celu', (a) => ({ alpha: attr.f(f('alpha')(a)) })),
  softsign: same('Softsign'),
  thresholdedRelu: same('ThresholdedRelu', (a) => ({ alpha: attr.f(f('alpha')(a)) })),
  shrink: same('Shrink', (a) => ({ bias: attr.f(f('bias')(a)), lambd: attr.f(f('lambd')(a)) })),
  logSoftmax: same('LogSoftmax', (a) => ({ axis: attr.i(f('axis')(a)) })),
  hardmax: same('Hardmax', (a) => ({ axis: attr.i(f('axis')(a)) })),
};

// ─── ONNX writer: IR math ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const MATH_EMIT: Partial<Record<OpType, Emit>> = {
  sin: same('Sin'),
  cos: same('Cos'),
  tan: same('Tan'),
  asin: same('Asin'),
  acos: same('Acos'),
  atan: same('Atan'),
  sinh: same('Sinh'),
  cosh: same('Cosh'),
  asinh: same('Asinh'),
  acosh: same('Acosh'),
  atanh: same('Atanh'),
  floor: same('Floor'),
  ceil: same('Ceil'),
  sign: same('Sign'),
  isNaN: same('IsNaN'),
  isInf: same('IsInf', (a) => ({ detect_positive: attr.i(a.detectPositive ? 1 : 0), detect_negative: attr.i(a.detectNegative ? 1 : 0) })),
  logicalNot: same('Not'),
  logicalAnd: same('And'),
  logicalOr: same('Or'),
  logicalXor: same('Xor'),
  greaterEqual: same('GreaterOrEqual'),
  lessEqual: same('LessOrEqual'),
  mod: same('Mod', (a) => ({ fmod: attr.i(a.fmod ? 1 : 0) })),
};
