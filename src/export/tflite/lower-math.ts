// TFLite lowerings of the ops of src/ir/ops/math.ts (trigonometry, rounding, tests, logic, mod): a
// builtin where TFLite has the function, else a composition of builtins. Merged into TFLITE_LOWERINGS
// (lower.ts).
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import type { Lowerer } from './lowerer.js';
import { OPTIONS, type BuiltinOp } from './schema.js';
import { ARITH, scalarData, builtin, castValue, chain, composed, opts, pairwise, type Lowering } from './helpers.js';

/** sqrt((1 − x)(1 + x)), accurate near |x| = 1 where 1 − x² cancels. */
const cosOfAsin = (c: ReturnType<typeof chain>): number => c.op('SQRT', [c.op('MUL', [c.op('SUB', [c.scalar(1), c.x]), c.op('ADD', [c.scalar(1), c.x])])]);

/** log(t + sqrt(t² + 1)), for t ≥ 0 (asinh). */
const asinhOfNonNegative = (c: ReturnType<typeof chain>, t: number): number => c.op('LOG', [c.op('ADD', [t, c.op('SQRT', [c.op('ADD', [c.op('MUL', [t, t]), c.scalar(1)])])])]);

export const MATH_LOWERINGS: Partial<Record<OpType, Lowering>> = {
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
};

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
