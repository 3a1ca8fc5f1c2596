// TFLite lowerings of the ops of src/ir/ops/elementwise.ts: unary and broadcasting binary ops, which keep
// their input's physical order. Merged into TFLITE_LOWERINGS (lower.ts).
import type { DType } from '../../ir/dtype.js';
import type { OpType } from '../../ir/registry.js';
import { ACTIVATION, OPTIONS } from './schema.js';
import { castValue, fusedActivation, fusedOnly, opts, T_FLOAT32, tflType, unary, type Lowering } from './helpers.js';

export const ELEMENTWISE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  relu: unary('RELU'),
  relu6: unary('RELU6'),
  sigmoid: unary('LOGISTIC'),
  tanh: unary('TANH'),
  abs: unary('ABS', OPTIONS.AbsOptions),
  neg: unary('NEG', OPTIONS.NegOptions),
  exp: unary('EXP', OPTIONS.ExpOptions),
  log: unary('LOG'),
  sqrt: unary('SQRT'),
  rsqrt: unary('RSQRT'),
  square: unary('SQUARE', OPTIONS.SquareOptions),
  round: unary('ROUND'),
  elu: (l, n, a) => {
    if (a.alpha !== 1) throw l.fail(n, 'ELU with alpha ≠ 1 has no TFLite builtin');
    l.elementwise(n, 'ELU');
  },
  leakyRelu: (l, n, a) => l.elementwise(n, 'LEAKY_RELU', opts(OPTIONS.LeakyReluOptions, [[0, 'f32', a.alpha as number]])),
  gelu: (l, n, a) => l.elementwise(n, 'GELU', opts(OPTIONS.GeluOptions, [[0, 'bool', a.approximate === 'tanh']])),
  identity: (l, n) => l.place(n.outputs[0]!, l.placement(n.inputs[0]!).tensor, l.placement(n.inputs[0]!).perm),
  clip: (l, n, a) => {
    const code = fusedActivation(n, a);
    if (code === ACTIVATION.RELU6) return l.elementwise(n, 'RELU6');
    if (code === ACTIVATION.RELU_N1_TO_1) return l.elementwise(n, 'RELU_N1_TO_1');
    if (code === ACTIVATION.RELU) return l.elementwise(n, 'RELU');
    // General clip: min(max(x, lo), hi) with scalar constants.
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    let cur = x.tensor;
    if (a.min !== -Infinity) {
      const t = l.activation(`${n.name}/max`, shape, 'float32');
      l.emit('MAXIMUM', [cur, l.floatConst(`${n.name}/lo`, Float32Array.of(a.min as number), [])], [t]);
      cur = t;
    }
    if (a.max !== Infinity) {
      const t = l.activation(`${n.name}/min`, shape, 'float32');
      l.emit('MINIMUM', [cur, l.floatConst(`${n.name}/hi`, Float32Array.of(a.max as number), [])], [t]);
      cur = t;
    }
    l.place(n.outputs[0]!, cur, x.perm);
  },
  swish: (l, n) => {
    // x · sigmoid(x): TFLite's HARD_SWISH is a different function.
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    const s = l.activation(`${n.name}/sigmoid`, shape, 'float32');
    l.emit('LOGISTIC', [x.tensor], [s]);
    const t = l.activation(n.outputs[0]!, shape, 'float32');
    l.emit('MUL', [x.tensor, s], [t], opts(OPTIONS.MulOptions, [[0, 'i8', ACTIVATION.NONE]]));
    l.place(n.outputs[0]!, t, x.perm);
  },
  softplus: (l, n) => {
    const x = l.placement(n.inputs[0]!);
    const shape = x.perm.map((d) => l.shapeOf(n.outputs[0]!)[d]!);
    const e = l.activation(`${n.name}/exp`, shape, 'float32');
    l.emit('EXP', [x.tensor], [e]);
    const p = l.activation(`${n.name}/add`, shape, 'float32');
    l.emit('ADD', [e, l.floatConst(`${n.name}/one`, Float32Array.of(1), [])], [p], opts(OPTIONS.AddOptions, [[0, 'i8', 0]]));
    const t = l.activation(n.outputs[0]!, shape, 'float32');
    l.emit('LOG', [p], [t]);
    l.place(n.outputs[0]!, t, x.perm);
  },
  reciprocal: (l, n) => {
    const t = l.activation(n.outputs[0]!, l.shapeOf(n.outputs[0]!), 'float32');
    l.emit('DIV', [l.floatConst(`${n.name}/one`, Float32Array.of(1), []), l.get(n.inputs[0]!)], [t], opts(OPTIONS.DivOptions, [[0, 'i8', 0]]));
    l.place(n.outputs[0]!, t);
  },
  add: arithmetic('ADD', OPTIONS.AddOptions),
  sub: arithmetic('SUB', OPTIONS.SubOptions),
  mul: arithmetic('MUL', OPTIONS.MulOptions),
  div: arithmetic('DIV', OPTIONS.DivOptions),
  pow: (l, n) => {
    // POW takes one type for both operands; ONNX's may differ, the result having the base's type.
    const [x, y] = [l.dtypeOf(n.inputs[0]!), l.dtypeOf(n.inputs[1]!)];
    if (tflType(y) === tflType(x)) return l.binary(n, 'POW');
    if (tflType(x) === T_FLOAT32) return l.binary({ ...n, inputs: [n.inputs[0]!, castValue(l, n, 1, x)] }, 'POW');
    // An integer base with a float exponent: computed in float, truncated to the base's type (as onnxruntime).
    const wide = `${n.name}/float`;
    l.types.set(wide, { dtype: 'float32', shape: l.shapeOf(n.outputs[0]!) });
    l.binary({ ...n, inputs: [castValue(l, n, 0, 'float32'), castValue(l, n, 1, 'float32')], outputs: [wide] }, 'POW');
    castValue(l, { ...n, inputs: [wide] }, 0, x, n.outputs[0]!);
  },
  maximum: (l, n) => l.binary(n, 'MAXIMUM'),
  minimum: (l, n) => l.binary(n, 'MINIMUM'),
  equal: (l, n) => l.binary(n, 'EQUAL'),
  less: (l, n) => l.binary(n, 'LESS'),
  greater: (l, n) => l.binary(n, 'GREATER'),
  prelu: (l, n) => l.binary(n, 'PRELU'),
  where: (l, n) => l.plain(n, 'SELECT_V2', [], opts(OPTIONS.SelectV2Options)),
};

/** IR dtypes TFLite's arithmetic kernels take only quantized (with scale and zero point). */
const SMALL_INTS = new Set<DType>(['int8', 'uint8', 'int16']);

/**
 * ADD/SUB/MUL/DIV. Plain (unquantized) 8- and 16-bit integers run in int32 between CASTs: TFLite's
 * kernels for them expect quantization parameters (uint8 ADD aborts LiteRT, MUL computes garbage).
 */
function arithmetic(op: 'ADD' | 'SUB' | 'MUL' | 'DIV', optionType: number): Lowering {
  return (l, n) => {
    const dtype = l.dtypeOf(n.outputs[0]!);
    if (!SMALL_INTS.has(dtype)) return l.binary(n, op, fusedOnly(optionType));
    const wide = `${n.name}/int32`;
    l.types.set(wide, { dtype: 'int32', shape: l.shapeOf(n.outputs[0]!) });
    l.binary({ ...n, inputs: [castValue(l, n, 0, 'int32'), castValue(l, n, 1, 'int32')], outputs: [wide] }, op, fusedOnly(optionType));
    castValue(l, { ...n, inputs: [wide] }, 0, dtype, n.outputs[0]!);
  };
}
