// ONNX writer entries for activations, math, logic, the softmax relatives and resampling (the ops
// of src/ir/ops/activations.ts, math.ts and resample.ts); merged into the writer's table (index.ts).
import { EdgelmError } from '../../errors.js';
import type { Dim } from '../../ir/dim.js';
import type { OpType } from '../../ir/registry.js';
import type { Emit } from './index.js';
import { attr, type OnnxAttr } from './proto.js';

/** One ONNX node of the same name, inputs and outputs, with attributes from the IR's. */
const same = (type: string, attrs: (a: Record<string, unknown>) => Record<string, OnnxAttr> = () => ({})): Emit => (w, n, a) =>
  void w.b.node(type, n.inputs.filter(Boolean), n.outputs, attrs(a), n.name);
const f = (key: string) => (a: Record<string, unknown>): number => a[key] as number;

export const ELEMENTWISE_EMIT: Partial<Record<OpType, Emit>> = {
  hardSwish: same('HardSwish'),
  hardSigmoid: same('HardSigmoid', (a) => ({ alpha: attr.f(f('alpha')(a)), beta: attr.f(f('beta')(a)) })),
  selu: same('Selu', (a) => ({ alpha: attr.f(f('alpha')(a)), gamma: attr.f(f('gamma')(a)) })),
  celu: same('Celu', (a) => ({ alpha: attr.f(f('alpha')(a)) })),
  softsign: same('Softsign'),
  thresholdedRelu: same('ThresholdedRelu', (a) => ({ alpha: attr.f(f('alpha')(a)) })),
  shrink: same('Shrink', (a) => ({ bias: attr.f(f('bias')(a)), lambd: attr.f(f('lambd')(a)) })),
  logSoftmax: same('LogSoftmax', (a) => ({ axis: attr.i(f('axis')(a)) })),
  hardmax: same('Hardmax', (a) => ({ axis: attr.i(f('axis')(a)) })),
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
  depthToSpace: same('DepthToSpace', (a) => ({ blocksize: attr.i(f('blockSize')(a)), mode: attr.s(a.mode as string) })),
  spaceToDepth: same('SpaceToDepth', (a) => ({ blocksize: attr.i(f('blockSize')(a)) })),
  resize: (w, n, a) => {
    if (a.coordinateMode === 'half_pixel_symmetric') throw new EdgelmError('unsupported', `${w.file}: node ${n.name} (resize): coordinate mode half_pixel_symmetric needs ONNX opset 19; the writer writes opset 17`);
    // Scales where every axis has one (they set the coordinate transform), else the output sizes.
    const scales = a.scales as number[];
    const roi = a.roi as number[];
    const ins = [n.inputs[0]!, roi.length ? w.init('roi', 'float32', [roi.length], Float32Array.from(roi)) : ''];
    const fed = n.inputs.slice(1, 4);
    if (fed.some(Boolean)) {
      // Run-time roi, scales or sizes pass through; opset 17's Resize has no axes attribute.
      const axes = a.axes as number[];
      if (axes.length && axes.some((ax, i) => ax !== i || axes.length !== w.rank(n.inputs[0]!)))
        throw new EdgelmError('unsupported', `${w.file}: node ${n.name} (resize): run-time roi, scales or sizes for axes [${axes}] need ONNX opset 18; the writer writes opset 17`);
      ins.splice(1, 1, ...fed.map((v, i) => (v ? w.valueAs(v, i === 2 ? 'int64' : 'float32') : '')));
      while (!ins[ins.length - 1]) ins.pop();
    } else if (scales.every((s) => s > 0)) ins.push(w.init('scales', 'float32', [scales.length], Float32Array.from(scales)));
    else ins.push('', w.dims.vector(a.sizes as Dim[], 'sizes'));
    w.b.node('Resize', ins, n.outputs, {
      mode: attr.s(a.mode as string),
      coordinate_transformation_mode: attr.s(a.coordinateMode as string),
      nearest_mode: attr.s(a.nearestMode as string),
      cubic_coeff_a: attr.f(f('cubicCoeffA')(a)),
      exclude_outside: attr.i(a.excludeOutside ? 1 : 0),
      extrapolation_value: attr.f(f('extrapolationValue')(a)),
    }, n.name);
  },
};
