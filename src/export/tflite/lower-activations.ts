// TFLite lowerings of the ops of src/ir/ops/activations.ts: a builtin where TFLite has the function,
// else a short composition of builtins (helpers.ts's chain) that computes the same formula. Merged
// into TFLITE_LOWERINGS (lower.ts).
import { DTYPES } from '../../ir/dtype.js';
import type { OpType } from '../../ir/registry.js';
import { OPTIONS } from './schema.js';
import { builtin, composed, num, opts, tflType, type Lowering } from './helpers.js';

export const ACTIVATION_LOWERINGS: Partial<Record<OpType, Lowering>> = {
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
};
