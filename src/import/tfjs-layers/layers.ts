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
  /** Keyword arguments recorded with this call (use_causal_mask, value=…); {} when none were saved. */
  kwargs: Record<string, unknown>;
  weight(suffix: string, required?: boolean): Tensor | undefined;
  layout: Layout;
  /** An invalid file (code 'input'). */
  fail(what: string): EdgelmError;
  /** A valid configuration edgelm cannot express (code 'unsupported'). */
  unsupported(what: string): EdgelmError;
  /** The IR value of a tensor passed by keyword, written [layer, node, tensor]. */
  tensor(ref: unknown): string;
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

/** A one-element float constant named "<layer>/<what>". */
const scalar = (ctx: LayerContext, what: string, v: number): string =>
  ctx.b.addConstant({ name: `${ctx.name}/${what}`, dtype: 'float32', shape: [1], data: Float32Array.of(v) });

/** The same values under another shape (a row-major reinterpretation, no copy). */
const reshaped = (t: Tensor, shape: number[]): Tensor => ({ ...t, shape });

/**
 * EinsumDense in the projection form MultiHeadAttention and most users write: input = free + bound
 * letters, kernel = bound + output letters, output = free + output letters ("abc,cde->abde"). That is
 * a dense layer on the flattened bound dims, reshaped to the output dims.
 */
function einsumDense(ctx: LayerContext, x: string): string {
  const eq = String(ctx.config.equation ?? '').replace(/\s/g, '');
  const m = /^([a-z]+),([a-z]+)->([a-z]+)$/.exec(eq);
  if (!m) throw ctx.unsupported(`equation '${eq}' is not supported (letters only, no ellipsis)`);
  const [, ins, ker, out] = m as unknown as [string, string, string, string];
  const bound = [...ins].filter((c) => ker.includes(c)).join('');
  const free = ins.slice(0, ins.length - bound.length);
  const outDims = ker.slice(bound.length);
  if (!bound || ins !== free + bound || ker !== bound + outDims || out !== free + outDims)
    throw ctx.unsupported(`equation '${eq}' is not a projection (input = free + summed letters, kernel = summed + output letters, output = free + output letters)`);
  const kernel = ctx.weight('kernel')!;
  const kdims = kernel.shape as number[];
  if (kdims.length !== ker.length) throw ctx.fail(`kernel of shape [${kdims}] does not match '${ker}'`);
  const [k, n] = [sizeOf(kdims.slice(0, bound.length)), sizeOf(kdims.slice(bound.length))];
  const keep = Array<number>(free.length).fill(0);
  const flat = bound.length > 1 ? ctx.b.add1('reshape', [x], { shape: [...keep, k] }, { name: `${ctx.name}/flatten` }) : x;
  let bias = '';
  const biasAxes = ctx.config.bias_axes;
  if (typeof biasAxes === 'string' && biasAxes) {
    // Keras's bias covers the output letters from the first bias letter on, with 1 where a letter has no bias.
    const first = Math.min(...[...biasAxes].map((c) => out.indexOf(c)));
    if (first < free.length) throw ctx.unsupported(`bias_axes '${biasAxes}' over input dims is not supported`);
    const b = ctx.weight('bias')!;
    const full = new Float32Array(n);
    const odims = kdims.slice(bound.length);
    const bdims = odims.map((d, i) => (biasAxes.includes(outDims[i]!) ? d : 1));
    if (b.data.length !== sizeOf(bdims)) throw ctx.fail(`bias of shape [${b.shape}] does not match bias_axes '${biasAxes}'`);
    for (let i = 0; i < n; i++) {
      let rem = i;
      let bi = 0;
      for (let a = 0; a < odims.length; a++) {
        const stride = sizeOf(odims.slice(a + 1));
        const idx = Math.floor(rem / stride);
        rem %= stride;
        bi = bi * bdims[a]! + (bdims[a] === 1 ? 0 : idx);
      }
      full[i] = (b.data as Float32Array)[bi]!;
    }
    bias = ctx.b.addConstant({ name: `${ctx.name}/bias`, dtype: 'float32', shape: [n], data: full });
  }
  const act = ctx.config.activation;
  const last = outDims.length === 1 && (act == null || act === 'linear');
  let y = ctx.b.add1('dense', [flat, ctx.b.addConstant(reshaped(kernel, [k, n])), bias], {}, { name: last ? ctx.name : `${ctx.name}/dense` });
  if (outDims.length > 1) y = ctx.b.add1('reshape', [y], { shape: [...keep, ...kdims.slice(bound.length)] }, { name: act == null || act === 'linear' ? ctx.name : `${ctx.name}/reshape` });
  return activation(ctx, y);
}

/** Additive causal mask [t, s]: 0 where query i may see key j (j ≤ i), −1e9 elsewhere, as Keras's masked softmax adds. */
function causalMask(ctx: LayerContext, t: number, s: number): string {
  const data = new Float32Array(t * s);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < s; j++) data[i * s + j] = -1e9;
  return ctx.b.addConstant({ name: `${ctx.name}/causal_mask`, dtype: 'float32', shape: [t, s], data });
}

/**
 * Keras MultiHeadAttention on [B, T, D] inputs: per-head projections as one dense each (kernels
 * [D, H, d] flattened to [D, H·d]), heads split by reshape/transpose, softmax(Q·Kᵀ/√d + mask)·V with
 * batched matMuls, heads merged and projected by the [H, d_v, D_out] output kernel. TF.js writes query
 * and value as the call's inputs; Keras writes value= (and key=) as keyword references.
 */
function multiHeadAttention(ctx: LayerContext, inputs: string[]): string {
  const kw = ctx.kwargs;
  const q = inputs[0]!;
  const v = inputs[1] ?? (kw.value != null ? ctx.tensor(kw.value) : undefined);
  if (!v) throw ctx.fail('needs a value input');
  const k = inputs[2] ?? (kw.key != null ? ctx.tensor(kw.key) : v);
  if (kw.attention_mask != null) throw ctx.unsupported('an attention_mask input is not supported (use_causal_mask is)');
  if (kw.return_attention_scores === true) throw ctx.unsupported('return_attention_scores is not supported');
  const [qs, vs] = [ctx.b.typeOf(q).shape, ctx.b.typeOf(v).shape];
  const axes = ctx.config.attention_axes;
  const axesOk = axes == null || (Array.isArray(axes) && axes.length === 1 && (axes[0] === 1 || axes[0] === -2)) || axes === 1;
  if (qs.length !== 3 || vs.length !== 3 || !axesOk)
    throw ctx.unsupported(`attention over axes ${JSON.stringify(axes ?? null)} of rank-${qs.length} inputs is not supported (rank-3 [batch, sequence, features], attention_axes null or [1])`);
  const heads = num(ctx, 'num_heads');
  const dk = num(ctx, 'key_dim');
  const dv = ctx.config.value_dim == null ? dk : num(ctx, 'value_dim');
  const withBias = useBias(ctx);
  // TF.js names the output projection "attentionOutput", Keras "attention_output".
  const outName = ctx.weight('attention_output/kernel', false) ? 'attention_output' : 'attentionOutput';

  /** x [B, L, D] → [B, H, L, d] (perm [0, 2, 1, 3]) or [B, H, d, L] (perm [0, 2, 3, 1]). */
  const project = (x: string, sub: string, d: number, perm: number[], scale = 1): string => {
    const w = ctx.weight(`${sub}/kernel`)!;
    const din = w.shape[0] as number;
    if (w.shape.length !== 3 || w.shape[1] !== heads || w.shape[2] !== d) throw ctx.fail(`${sub}/kernel has shape [${w.shape}], expected [${din}, ${heads}, ${d}]`);
    // Scaling Q·Kᵀ by 1/√d is folded into the query projection (TF.js scales the projected query).
    const fold = (t: Tensor, shape: number[]): Tensor => (scale === 1 ? reshaped(t, shape) : { ...t, shape, data: (t.data as Float32Array).map((e) => e * scale) });
    const bias = withBias ? ctx.b.addConstant(fold(ctx.weight(`${sub}/bias`)!, [heads * d])) : '';
    const y = ctx.b.add1('dense', [x, ctx.b.addConstant(fold(w, [din, heads * d])), bias], {}, { name: `${ctx.name}/${sub}` });
    const split = ctx.b.add1('reshape', [y], { shape: [0, 0, heads, d] }, { name: `${ctx.name}/${sub}/heads` });
    return ctx.b.add1('transpose', [split], { perm }, { name: `${ctx.name}/${sub}/transpose` });
  };
  const qh = project(q, 'query', dk, [0, 2, 1, 3], 1 / Math.sqrt(dk));
  const kt = project(k, 'key', dk, [0, 2, 3, 1]);
  const vh = project(v, 'value', dv, [0, 2, 1, 3]);
  let scores = ctx.b.add1('matMul', [qh, kt], {}, { name: `${ctx.name}/scores` });
  if (kw.use_causal_mask === true) {
    const [t, s] = [qs[1], vs[1]];
    if (typeof t !== 'number' || typeof s !== 'number') throw ctx.unsupported('use_causal_mask needs a static sequence length');
    scores = ctx.b.add1('add', [scores, causalMask(ctx, t, s)], {}, { name: `${ctx.name}/masked` });
  }
  const probs = ctx.b.add1('softmax', [scores], { axis: -1 }, { name: `${ctx.name}/softmax` });
  const ctxv = ctx.b.add1('matMul', [probs, vh], {}, { name: `${ctx.name}/context` });
  const merged = ctx.b.add1('reshape', [ctx.b.add1('transpose', [ctxv], { perm: [0, 2, 1, 3] }, { name: `${ctx.name}/merge` })], { shape: [0, 0, heads * dv] }, { name: `${ctx.name}/merge/reshape` });
  const wo = ctx.weight(`${outName}/kernel`)!;
  if (wo.shape.length !== 3 || wo.shape[0] !== heads || wo.shape[1] !== dv) throw ctx.unsupported(`${outName}/kernel of shape [${wo.shape}] is not supported (output_shape must be one dim)`);
  const dout = wo.shape[2] as number;
  const bo = withBias ? ctx.b.addConstant(ctx.weight(`${outName}/bias`)!) : '';
  return ctx.b.add1('dense', [merged, ctx.b.addConstant(reshaped(wo, [heads * dv, dout])), bo], {}, { name: ctx.name });
}

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
  Softmax: (ctx, [x]) => {
    // TF.js writes axis as a number or a one-element list (MultiHeadAttention's inner softmax).
    const axis = Array.isArray(ctx.config.axis) && ctx.config.axis.length === 1 ? ctx.config.axis[0] : (ctx.config.axis ?? -1);
    if (typeof axis !== 'number') throw ctx.unsupported(`softmax over axes ${JSON.stringify(ctx.config.axis)} is not supported (one axis)`);
    return ctx.b.add1('softmax', [x!], { axis }, { name: ctx.name });
  },
  Rescaling: (ctx, [x]) => {
    const f = ctx.b.typeOf(x!).dtype === 'float32' ? x! : ctx.b.add1('cast', [x!], { to: 'float32' }, { name: `${ctx.name}/cast` });
    const offset = num(ctx, 'offset', 0);
    const y = ctx.b.add1('mul', [f, scalar(ctx, 'scale', num(ctx, 'scale'))], {}, { name: offset ? `${ctx.name}/scale` : ctx.name });
    return offset ? ctx.b.add1('add', [y, scalar(ctx, 'offset', offset)], {}, { name: ctx.name }) : y;
  },
  Permute: (ctx, [x]) => {
    const dims = ctx.config.dims;
    const rank = ctx.b.typeOf(x!).shape.length;
    if (!Array.isArray(dims) || dims.length !== rank - 1 || [...dims].sort().some((d, i) => d !== i + 1))
      throw ctx.fail(`dims must be a permutation of 1..${rank - 1}`);
    return ctx.b.add1('transpose', [x!], { perm: [0, ...(dims as number[])] }, { name: ctx.name });
  },
  Dot: (ctx, [x, y]) => {
    if (ctx.config.normalize === true) throw ctx.unsupported('normalize=true (cosine similarity) is not supported');
    if (!y) throw ctx.fail('needs two inputs');
    const rank = ctx.b.typeOf(x!).shape.length;
    if (ctx.b.typeOf(y).shape.length !== rank || (rank !== 2 && rank !== 3))
      throw ctx.unsupported(`inputs of ranks ${rank} and ${ctx.b.typeOf(y).shape.length} are not supported (both 2 or both 3)`);
    const cfg = ctx.config.axes;
    const raw = typeof cfg === 'number' ? [cfg, cfg] : cfg;
    if (!Array.isArray(raw) || raw.length !== 2 || !raw.every((a) => Number.isSafeInteger(a))) throw ctx.fail('axes must be an integer or a pair of integers');
    const [ax, ay] = (raw as number[]).map((a) => (a < 0 ? a + rank : a)) as [number, number];
    if (ax < 1 || ay < 1 || ax >= rank || ay >= rank) throw ctx.unsupported(`axes [${String(raw)}] are not supported (the batch axis cannot be summed)`);
    if (rank === 2) {
      // [B, d]·[B, d] → [B, 1]: a row-wise inner product.
      const p = ctx.b.add1('mul', [x!, y], {}, { name: `${ctx.name}/mul` });
      return ctx.b.add1('reduceSum', [p], { axes: [1], keepDims: true }, { name: ctx.name });
    }
    // Keras batch_dot on [B, m, k]: the summed axis of x goes last, that of y second to last.
    const t = (v: string, tag: string): string => ctx.b.add1('transpose', [v], { perm: [0, 2, 1] }, { name: `${ctx.name}/${tag}` });
    return ctx.b.add1('matMul', [ax === 1 ? t(x!, 'transpose_a') : x!, ay === 2 ? t(y, 'transpose_b') : y], {}, { name: ctx.name });
  },
  PositionEmbedding: (ctx, [x]) => {
    // Keras-NLP semantics: the output is the first T rows of the table, broadcast to the input's shape
    // (it is added to the token embeddings by a following Add). Kept as a [1, T, F] constant.
    const shape = ctx.b.typeOf(x!).shape;
    const [t, f] = [shape[shape.length - 2], shape[shape.length - 1]];
    const table = ctx.weight('embeddings')!;
    const [rows, cols] = table.shape as [number, number];
    if (shape.length < 2 || typeof t !== 'number') throw ctx.unsupported('the sequence length (second to last input dim) must be static');
    if (t > rows || f !== cols) throw ctx.fail(`a [${rows}, ${cols}] table cannot embed inputs of shape [${shape.map((d) => d ?? '?')}]`);
    if (ctx.kwargs.start_index) throw ctx.unsupported('start_index is not supported');
    const data = (table.data as Float32Array).slice(0, t * cols);
    return ctx.b.addConstant({ name: ctx.name, dtype: 'float32', shape: [...Array<number>(shape.length - 2).fill(1), t, cols], data });
  },
  EinsumDense: (ctx, [x]) => einsumDense(ctx, x!),
  MultiHeadAttention: (ctx, inputs) => multiHeadAttention(ctx, inputs),
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
