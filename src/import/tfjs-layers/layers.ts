// One entry per Keras/TF.js layer class: how it becomes IR nodes.
import type { EdgelmError } from '../../errors.js';
import type { GraphBuilder } from '../../ir/builder.js';
import type { Layout, Padding } from '../../ir/ops/nn.js';
import type { OpType } from '../../ir/registry.js';
import { sizeOf, type Tensor } from '../../ir/tensor.js';

export interface LayerContext {
  b: GraphBuilder;
  /** Name for this call's output value. */
  name: string;
  config: Record<string, unknown>;
  weight(suffix: string, required?: boolean): Tensor | undefined;
  layout: Layout;
  fail(what: string): EdgelmError;
}

type LayerFn = (ctx: LayerContext, inputs: string[]) => string;

/** Largest constant a layer synthesizes from config rather than reads from the weights (4 Mi values). */
const MAX_SYNTHESIZED = 1 << 22;

/** Keras activation name → IR op (undefined = identity). */
export const ACTIVATIONS: Record<string, { op: OpType; attrs?: Record<string, number | string> } | undefined> = {
  linear: undefined,
  relu: { op: 'relu' },
  relu6: { op: 'relu6' },
  sigmoid: { op: 'sigmoid' },
  tanh: { op: 'tanh' },
  softmax: { op: 'softmax', attrs: { axis: -1 } },
  gelu: { op: 'gelu', attrs: { approximate: 'none' } },
  gelu_new: { op: 'gelu', attrs: { approximate: 'tanh' } },
  swish: { op: 'swish' },
  silu: { op: 'swish' },
  elu: { op: 'elu' },
  softplus: { op: 'softplus' },
};

function activation(ctx: LayerContext, x: string, name = ctx.config.activation, final = true): string {
  if (name === undefined || name === null) return x;
  const act = ACTIVATIONS[String(name)];
  if (act === undefined) {
    if (String(name) === 'linear') return x;
    throw ctx.fail(`activation '${String(name)}' is not supported`);
  }
  return ctx.b.add1(act.op, [x], act.attrs ?? {}, { name: final ? ctx.name : `${ctx.name}/${act.op}` });
}

const num = (ctx: LayerContext, key: string, dflt?: number): number => {
  const v = ctx.config[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw ctx.fail(`config.${key} must be a number`);
  return v;
};
const pair = (ctx: LayerContext, key: string, dflt: number | number[]): [number, number] => {
  const v = ctx.config[key] ?? dflt;
  const arr = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 2 || !arr.every((d) => Number.isSafeInteger(d) && d > 0))
    throw ctx.fail(`config.${key} must be one or two positive integers`);
  return [arr[0], arr[1]];
};
const padding = (ctx: LayerContext): Padding => {
  const p = ctx.config.padding ?? 'valid';
  if (p === 'same') return 'SAME';
  if (p === 'valid') return 'VALID';
  throw ctx.fail(`padding '${String(p)}' is not supported (same, valid)`);
};

/** Adds a weight as a constant named "<layer>/<suffix>". */
const konst = (ctx: LayerContext, suffix: string, required = true): string => {
  const t = ctx.weight(suffix, required);
  return t ? ctx.b.addConstant(t) : '';
};

/** Runs `op`, then the layer's activation; the last node carries the layer's name. */
function withActivation(ctx: LayerContext, op: OpType, inputs: string[], attrs: Record<string, number | string | number[]> = {}): string {
  const act = ctx.config.activation;
  const hasAct = act !== undefined && act !== null && act !== 'linear';
  const y = ctx.b.add1(op, inputs, attrs, { name: hasAct ? `${ctx.name}/${op}` : ctx.name });
  return hasAct ? activation(ctx, y) : y;
}

const useBias = (ctx: LayerContext): boolean => ctx.config.use_bias !== false;

function binaryChain(op: OpType): LayerFn {
  return (ctx, inputs) => {
    if (inputs.length < 2) throw ctx.fail('needs at least two inputs');
    let acc = inputs[0]!;
    inputs.slice(1).forEach((x, i) => {
      acc = ctx.b.add1(op, [acc, x], {}, { name: i === inputs.length - 2 ? ctx.name : `${ctx.name}/${op}_${i}` });
    });
    return acc;
  };
}

function globalPool(op: 'reduceMean' | 'reduceMax'): LayerFn {
  return (ctx, [x]) => {
    const axes = ctx.layout === 'NHWC' ? [1, 2] : [2, 3];
    return ctx.b.add1(op, [x!], { axes, keepDims: ctx.config.keepdims === true }, { name: ctx.name });
  };
}

function pool(op: 'maxPool2d' | 'avgPool2d'): LayerFn {
  return (ctx, [x]) => {
    const kernel = pair(ctx, 'pool_size', 2);
    const strides = ctx.config.strides == null ? kernel : pair(ctx, 'strides', kernel);
    return ctx.b.add1(op, [x!], { layout: ctx.layout, kernel, strides, padding: padding(ctx) }, { name: ctx.name });
  };
}

export const LAYERS = {
  Dense: (ctx, [x]) => withActivation(ctx, 'dense', [x!, konst(ctx, 'kernel'), useBias(ctx) ? konst(ctx, 'bias') : '']),
  Conv2D: (ctx, [x]) =>
    withActivation(ctx, 'conv2d', [x!, konst(ctx, 'kernel'), useBias(ctx) ? konst(ctx, 'bias') : ''], {
      layout: ctx.layout,
      strides: pair(ctx, 'strides', 1),
      dilations: pair(ctx, 'dilation_rate', 1),
      padding: padding(ctx),
      group: typeof ctx.config.groups === 'number' ? ctx.config.groups : 1,
    }),
  DepthwiseConv2D: (ctx, [x]) =>
    withActivation(ctx, 'depthwiseConv2d', [x!, konst(ctx, 'depthwise_kernel'), useBias(ctx) ? konst(ctx, 'bias') : ''], {
      layout: ctx.layout,
      strides: pair(ctx, 'strides', 1),
      dilations: pair(ctx, 'dilation_rate', 1),
      padding: padding(ctx),
    }),
  SeparableConv2D: (ctx, [x]) => {
    const dw = ctx.b.add1(
      'depthwiseConv2d',
      [x!, konst(ctx, 'depthwise_kernel')],
      { layout: ctx.layout, strides: pair(ctx, 'strides', 1), dilations: pair(ctx, 'dilation_rate', 1), padding: padding(ctx) },
      { name: `${ctx.name}/depthwise` },
    );
    return withActivation(ctx, 'conv2d', [dw, konst(ctx, 'pointwise_kernel'), useBias(ctx) ? konst(ctx, 'bias') : ''], { layout: ctx.layout });
  },
  MaxPooling2D: pool('maxPool2d'),
  AveragePooling2D: pool('avgPool2d'),
  GlobalAveragePooling2D: globalPool('reduceMean'),
  GlobalMaxPooling2D: globalPool('reduceMax'),
  Flatten: (ctx, [x]) => ctx.b.add1('reshape', [x!], { shape: [0, -1] }, { name: ctx.name }),
  Reshape: (ctx, [x]) => {
    const target = ctx.config.target_shape ?? ctx.config.targetShape;
    if (!Array.isArray(target) || !target.every((d) => Number.isSafeInteger(d) && (d > 0 || d === -1)))
      throw ctx.fail('target_shape must be a list of positive integers (one may be -1)');
    return ctx.b.add1('reshape', [x!], { shape: [0, ...(target as number[])] }, { name: ctx.name });
  },
  // Dropout and friends do nothing at inference.
  Dropout: (_ctx, [x]) => x!,
  SpatialDropout2D: (_ctx, [x]) => x!,
  GaussianNoise: (_ctx, [x]) => x!,
  BatchNormalization: (ctx, [x]) => {
    const axisCfg = ctx.config.axis ?? -1;
    const axis = Array.isArray(axisCfg) ? axisCfg[0] : axisCfg;
    if (typeof axis !== 'number') throw ctx.fail('axis must be an integer');
    const mean = ctx.weight('moving_mean')!;
    const c = mean.data.length;
    const fill = (suffix: string, v: number): string =>
      ctx.b.addConstant({ name: `${ctx.name}/${suffix}`, dtype: 'float32', shape: [c], data: new Float32Array(c).fill(v) });
    const gamma = ctx.config.scale === false ? fill('gamma', 1) : konst(ctx, 'gamma');
    const beta = ctx.config.center === false ? fill('beta', 0) : konst(ctx, 'beta');
    return ctx.b.add1('batchNorm', [x!, gamma, beta, ctx.b.addConstant(mean), konst(ctx, 'moving_variance')], { axis, epsilon: num(ctx, 'epsilon', 1e-3) }, { name: ctx.name });
  },
  LayerNormalization: (ctx, [x]) => {
    const axisCfg = ctx.config.axis ?? -1;
    const axes = Array.isArray(axisCfg) ? axisCfg : [axisCfg];
    const rank = ctx.b.typeOf(x!).shape.length;
    const norm = axes.map((a) => (typeof a === 'number' && a < 0 ? a + rank : a)).sort();
    // Only trailing axes are a layer norm in the IR's sense (and in TFLite/ONNX).
    if (!norm.every((a, i) => a === rank - norm.length + i)) throw ctx.fail(`normalizing over axes [${axes}] is not supported (only trailing axes)`);
    const [g, bta] = [ctx.config.scale === false ? undefined : konst(ctx, 'gamma'), ctx.config.center === false ? '' : konst(ctx, 'beta')];
    const dims = ctx.b.typeOf(x!).shape.slice(rank - norm.length) as number[];
    // scale=false: a gamma of ones is made from the declared input shape, not from file bytes, so its
    // size is checked first (run-time dims give NaN, absurd dims a RangeError or gigabytes of ones).
    const n = sizeOf(dims);
    if (g === undefined && (!Number.isFinite(n) || n > MAX_SYNTHESIZED))
      throw ctx.fail(`scale=false over dims [${dims.map((d) => d ?? '?')}] needs static dims of at most ${MAX_SYNTHESIZED} values`);
    const gamma = g ?? ctx.b.addConstant({ name: `${ctx.name}/gamma`, dtype: 'float32', shape: dims, data: new Float32Array(n).fill(1) });
    return ctx.b.add1('layerNorm', [x!, gamma, bta], { axis: rank - norm.length, epsilon: num(ctx, 'epsilon', 1e-3) }, { name: ctx.name });
  },
  Activation: (ctx, [x]) => {
    const y = activation(ctx, x!);
    return y === x ? ctx.b.add1('identity', [x!], {}, { name: ctx.name }) : y;
  },
  ReLU: (ctx, [x]) => {
    const max = ctx.config.max_value;
    if (max === 6) return ctx.b.add1('relu6', [x!], {}, { name: ctx.name });
    if (max != null) return ctx.b.add1('clip', [x!], { min: 0, max: max as number }, { name: ctx.name });
    return ctx.b.add1('relu', [x!], {}, { name: ctx.name });
  },
  LeakyReLU: (ctx, [x]) => ctx.b.add1('leakyRelu', [x!], { alpha: num(ctx, 'alpha', 0.3) }, { name: ctx.name }),
  ELU: (ctx, [x]) => ctx.b.add1('elu', [x!], { alpha: num(ctx, 'alpha', 1) }, { name: ctx.name }),
  PReLU: (ctx, [x]) => ctx.b.add1('prelu', [x!, konst(ctx, 'alpha')], {}, { name: ctx.name }),
  Softmax: (ctx, [x]) => ctx.b.add1('softmax', [x!], { axis: num(ctx, 'axis', -1) }, { name: ctx.name }),
  Add: binaryChain('add'),
  Multiply: binaryChain('mul'),
  Subtract: binaryChain('sub'),
  Maximum: binaryChain('maximum'),
  Minimum: binaryChain('minimum'),
  Concatenate: (ctx, inputs) => ctx.b.add1('concat', inputs, { axis: num(ctx, 'axis', -1) }, { name: ctx.name }),
  Embedding: (ctx, [x]) => ctx.b.add1('gather', [konst(ctx, 'embeddings'), x!], { axis: 0 }, { name: ctx.name }),
  ZeroPadding2D: (ctx, [x]) => {
    const p = ctx.config.padding ?? 1;
    // Keras writes n, [h, w] or [[top, bottom], [left, right]]; anything else destructured below is a
    // TypeError ({} is not iterable) or NaN pads.
    const nat = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
    const pairs = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every((e) => Array.isArray(e) && e.length === 2 && e.every(nat));
    if (!nat(p) && !(Array.isArray(p) && p.length === 2 && p.every(nat)) && !pairs(p)) throw ctx.fail('padding must be n, [h, w] or [[top, bottom], [left, right]] of non-negative integers');
    const [[t, bt], [l, r]] = (typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p) && typeof p[0] === 'number' ? [[p[0], p[0]], [p[1], p[1]]] : p) as [[number, number], [number, number]];
    const pads = ctx.layout === 'NHWC' ? [0, t, l, 0, 0, bt, r, 0] : [0, 0, t, l, 0, 0, bt, r];
    return ctx.b.add1('pad', [x!], { pads }, { name: ctx.name });
  },
} satisfies Record<string, LayerFn>;
