// TFLite flatbuffer → Graph: the float operators CNNs and MediaPipe-style models use. TFLite is NHWC,
// which the IR's spatial ops hold natively; weights move from TFLite's layouts (conv OHWI, depthwise
// 1HW(I·M), fully connected [out, in], transposed conv OHWI) to the IR's TF layouts. Constants stored as
// float16 or sparse are expanded at import (DEQUANTIZE / DENSIFY fold away); int8 weights of a
// dynamic-range model are dequantized with a warning. Full-integer models (int8 activations) are refused.
import { EdgelmError, inputError } from '../../errors.js';
import { DTYPES, isDType, type DType } from '../../ir/dtype.js';
import { decodeHalfs } from '../../ir/float16.js';
import type { Attrs, Graph } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { sizeOf, type Tensor } from '../../ir/tensor.js';
import { transposeData } from '../../ir/tensor.js';
import { ReaderGraphBuilder } from '../builder.js';
import { readTflite, type Reader, type TfliteModelInfo, type TfliteOperatorInfo } from './index.js';
import { optionsOf, type Options, type OptionsTable } from './options.js';
import { densify } from './sparsity.js';
import { SHAPE_OPS } from './ops-shape.js';

export interface Ctx {
  b: ReaderGraphBuilder;
  op: TfliteOperatorInfo;
  /** "operator 3 (CONV_2D)" for messages. */
  where: string;
  /** IR value of operator input i (a constant is added on first use). */
  input(i: number): string;
  /** Whether input i is present (−1 marks an omitted optional input). */
  has(i: number): boolean;
  /** Float or integer constant data of input i, decoded; undefined for activations. */
  konst(i: number): Tensor | undefined;
  ints(i: number, what: string): number[];
  options<T extends OptionsTable>(table: T): Options<T>;
  /** Static shape of input i, as the file declares it. */
  shape(i: number): number[];
  emit(op: OpType, inputs: string[], attrs?: Attrs, suffix?: string): string;
  bind(value: string, output?: number): void;
  /** Binds a folded constant as output 0. */
  bindConst(t: Tensor): void;
  fail(what: string): EdgelmError;
}

/**
 * fused_activation_function → an explicit node after the op. TFLite's kernels clamp to the RELU ranges
 * only (CalculateActivationRange); a fused TANH or SIGN_BIT is ignored by some kernels and applied by
 * none of these, so it is refused rather than guessed.
 */
function fused(c: Ctx, y: string, code: number): string {
  if (code === 0) return y;
  if (code === 1) return c.emit('relu', [y], {}, 'act');
  if (code === 2) return c.emit('clip', [y], { min: -1, max: 1 }, 'act');
  if (code === 3) return c.emit('relu6', [y], {}, 'act');
  throw c.fail(`fused activation ${code === 4 ? 'TANH' : code === 5 ? 'SIGN_BIT' : code} is not supported`);
}

const PADDING = ['SAME', 'VALID'] as const;
function padding(c: Ctx, code: number): 'SAME' | 'VALID' {
  const p = PADDING[code];
  if (!p) throw c.fail(`padding ${code} is not supported`);
  return p;
}

/** Float32 data of a constant weight, whatever it was stored as. */
function floatData(c: Ctx, i: number, what: string): Float32Array {
  const k = c.konst(i);
  if (!k) throw c.fail(`the ${what} must be constant`);
  if (k.dtype !== 'float32') throw c.fail(`${k.dtype} ${what} is not supported`);
  return k.data as Float32Array;
}

/** Static shape of input i, which must have `rank` dims (a damaged file can hold anything there). */
function rankOf(c: Ctx, i: number, rank: number, what: string): number[] {
  const s = c.shape(i);
  if (s.length !== rank || s.some((d) => !(d >= 1))) throw inputError(c.b.file, `${c.where}: the ${what} has shape [${s}], expected ${rank} positive dims`);
  return s;
}
/** Strides, dilations and window sizes must be ≥ 1 (the schema's default 0 would divide by zero). */
function positive(c: Ctx, what: string, v: number[]): number[] {
  if (v.some((d) => !(d >= 1))) throw inputError(c.b.file, `${c.where}: ${what} [${v}] must be ≥ 1`);
  return v;
}

function bias(c: Ctx, i: number): string {
  return c.has(i) ? c.input(i) : '';
}

const OPS: Record<string, (c: Ctx) => void> = {
  CONV_2D: (c) => {
    const o = c.options('Conv2DOptions');
    const [cout, kh, kw, cin] = rankOf(c, 1, 4, 'filter') as [number, number, number, number];
    rankOf(c, 0, 4, 'input');
    const w = c.b.addConstant({ name: `${c.op.outputs[0]}_kernel`, dtype: 'float32', shape: [kh, kw, cin, cout], data: transposeData(floatData(c, 1, 'filter'), [cout, kh, kw, cin], [1, 2, 3, 0]) });
    const inC = c.shape(0)[3]!;
    const group = inC / cin;
    if (!Number.isInteger(group) || group < 1) throw c.fail(`input has ${inC} channels, the filter ${cin}`);
    const attrs = { layout: 'NHWC', strides: positive(c, 'strides', [o.i32('stride_h'), o.i32('stride_w')]), dilations: positive(c, 'dilations', [o.i32('dilation_h_factor', 1), o.i32('dilation_w_factor', 1)]), padding: padding(c, o.i8('padding')), group };
    c.bind(fused(c, c.emit('conv2d', [c.input(0), w, bias(c, 2)], attrs), o.i8('fused_activation_function')));
  },
  DEPTHWISE_CONV_2D: (c) => {
    const o = c.options('DepthwiseConv2DOptions');
    const [one, kh, kw, out] = rankOf(c, 1, 4, 'filter') as [number, number, number, number];
    const cin = rankOf(c, 0, 4, 'input')[3]!;
    const mult = out / cin;
    if (one !== 1 || !Number.isInteger(mult)) throw c.fail(`filter [${c.shape(1)}] does not fit ${cin} input channels`);
    // Output channel k = c·M + m in both layouts: a reshape, no transpose.
    const w = c.b.addConstant({ name: `${c.op.outputs[0]}_kernel`, dtype: 'float32', shape: [kh, kw, cin, mult], data: floatData(c, 1, 'filter') });
    const attrs = { layout: 'NHWC', strides: positive(c, 'strides', [o.i32('stride_h'), o.i32('stride_w')]), dilations: positive(c, 'dilations', [o.i32('dilation_h_factor', 1), o.i32('dilation_w_factor', 1)]), padding: padding(c, o.i8('padding')) };
    c.bind(fused(c, c.emit('depthwiseConv2d', [c.input(0), w, bias(c, 2)], attrs), o.i8('fused_activation_function')));
  },
  TRANSPOSE_CONV: (c) => {
    const o = c.options('TransposeConvOptions');
    const outShape = c.ints(0, 'output shape');
    if (outShape.length !== 4) throw inputError(c.b.file, `${c.where}: output shape [${outShape}] is not 4-D`);
    const [cout, kh, kw, cin] = rankOf(c, 1, 4, 'filter') as [number, number, number, number];
    rankOf(c, 2, 4, 'input');
    const w = c.b.addConstant({ name: `${c.op.outputs[0]}_kernel`, dtype: 'float32', shape: [kh, kw, cout, cin], data: transposeData(floatData(c, 1, 'filter'), [cout, kh, kw, cin], [1, 2, 0, 3]) });
    const [, ih, iw] = c.shape(2) as [number, number, number];
    const strides = positive(c, 'strides', [o.i32('stride_h'), o.i32('stride_w')]);
    const pad = padding(c, o.i8('padding'));
    // The forward convolution this is the gradient of maps the output size to the input's: its pads are ours.
    const pads = [0, 0, 0, 0];
    const outputPadding = [0, 0];
    [[ih, outShape[1]!, kh], [iw, outShape[2]!, kw]].forEach(([inn, out, k], i) => {
      const full = (inn! - 1) * strides[i]! + k!;
      const total = pad === 'SAME' ? Math.max(0, full - out!) : 0;
      pads[i] = Math.floor(total / 2);
      pads[i + 2] = total - pads[i]!;
      outputPadding[i] = out! - (full - total);
      if (outputPadding[i]! < 0 || outputPadding[i]! >= strides[i]!) throw c.fail(`output size ${out} does not follow from input ${inn}, kernel ${k}, stride ${strides[i]}`);
    });
    const y = c.emit('conv2dTranspose', [c.input(2), w, bias(c, 3)], { layout: 'NHWC', strides, pads, outputPadding });
    c.bind(fused(c, y, o.i8('fused_activation_function')));
  },
  FULLY_CONNECTED: (c) => {
    const o = c.options('FullyConnectedOptions');
    if (o.i8('weights_format') !== 0) throw c.fail('shuffled weights are not supported');
    const [dout, din] = rankOf(c, 1, 2, 'weights') as [number, number];
    const xs = c.shape(0);
    // TFLite flattens the input to [−1, in] unless keep_num_dims.
    const keep = o.bool('keep_num_dims');
    let x = c.input(0);
    if (xs.length !== 2 && !keep) x = c.emit('reshape', [x], { shape: [-1, din] }, 'flatten');
    let y: string;
    const k = c.konst(1);
    if (k) {
      const w = c.b.addConstant({ name: `${c.op.outputs[0]}_kernel`, dtype: 'float32', shape: [din, dout], data: transposeData(floatData(c, 1, 'weights'), [dout, din], [1, 0]) });
      y = c.emit('dense', [x, w, bias(c, 2)]);
    } else {
      y = c.emit('matMul', [x, c.input(1)], { transposeB: true });
      if (c.has(2)) y = c.emit('add', [y, c.input(2)], {}, 'bias');
    }
    c.bind(fused(c, y, o.i8('fused_activation_function')));
  },
  ADD: binary('add', 'AddOptions'),
  SUB: binary('sub', 'SubOptions'),
  MUL: binary('mul', 'MulOptions'),
  DIV: binary('div', 'DivOptions'),
  MAXIMUM: (c) => c.bind(c.emit('maximum', [c.input(0), c.input(1)])),
  MINIMUM: (c) => c.bind(c.emit('minimum', [c.input(0), c.input(1)])),
  MAX_POOL_2D: pool('maxPool2d'),
  AVERAGE_POOL_2D: pool('avgPool2d'),
  RESHAPE: (c) => {
    // The target: the shape input where constant, else the options, else the output's declared shape.
    const k = c.has(1) ? c.konst(1) : undefined;
    const o = c.options('ReshapeOptions');
    const target = k ? c.ints(1, 'shape') : o.present && o.ints('new_shape').length ? o.ints('new_shape') : c.shape(-1);
    c.bind(c.emit('reshape', [c.input(0)], { shape: target }));
  },
  SQUEEZE: (c) => {
    const dims = c.options('SqueezeOptions').ints('squeeze_dims');
    const rank = c.shape(0).length;
    c.bind(c.emit('squeeze', [c.input(0)], { axes: dims.length ? dims : c.shape(0).flatMap((d, i) => (d === 1 ? [i] : [])).map((a) => (a < 0 ? a + rank : a)) }));
  },
  SOFTMAX: (c) => {
    const beta = c.options('SoftmaxOptions').f32('beta', 1);
    let x = c.input(0);
    if (beta !== 1) x = c.emit('mul', [x, c.b.addConstant({ name: `${c.op.outputs[0]}_beta`, dtype: 'float32', shape: [], data: Float32Array.of(beta) })], {}, 'beta');
    c.bind(c.emit('softmax', [x], { axis: -1 }));
  },
  LOGISTIC: unary('sigmoid'),
  TANH: unary('tanh'),
  RELU: unary('relu'),
  RELU6: unary('relu6'),
  RELU_N1_TO_1: (c) => c.bind(c.emit('clip', [c.input(0)], { min: -1, max: 1 })),
  HARD_SWISH: unary('hardSwish'),
  EXP: unary('exp'),
  ABS: unary('abs'),
  NEG: unary('neg'),
  SQRT: unary('sqrt'),
  RSQRT: unary('rsqrt'),
  LEAKY_RELU: (c) => c.bind(c.emit('leakyRelu', [c.input(0)], { alpha: c.options('LeakyReluOptions').f32('alpha', 0.2) })),
  PRELU: (c) => c.bind(c.emit('prelu', [c.input(0), c.input(1)])),
  CONCATENATION: (c) => {
    const o = c.options('ConcatenationOptions');
    const ins = c.op.inputs.map((_, i) => c.input(i));
    c.bind(fused(c, c.emit('concat', ins, { axis: o.i32('axis') }), o.i8('fused_activation_function')));
  },
  PAD: (c) => padOp(c),
  PADV2: (c) => padOp(c),
  MEAN: (c) => c.bind(c.emit('reduceMean', [c.input(0)], { axes: c.ints(1, 'axes'), keepDims: c.options('ReducerOptions').bool('keep_dims') })),
  TRANSPOSE: (c) => c.bind(c.emit('transpose', [c.input(0)], { perm: c.ints(1, 'perm') })),
  RESIZE_BILINEAR: (c) => resize(c, 'linear'),
  RESIZE_NEAREST_NEIGHBOR: (c) => resize(c, 'nearest'),
  DEQUANTIZE: (c) => {
    // float16 or int8 constants → float32 (konst decodes both); a run-time DEQUANTIZE means int8 activations.
    const k = c.konst(0);
    if (!k) throw c.fail('dequantizing a run-time value (int8 activations) is not supported; read the float model');
    c.bindConst(k);
  },
  ...SHAPE_OPS,
  DENSIFY: (c) => {
    const k = c.konst(0);
    if (!k) throw c.fail('the input must be a constant');
    c.bindConst(k); // konst densified it
  },
};

function unary(op: OpType) {
  return (c: Ctx): void => c.bind(c.emit(op, [c.input(0)]));
}
function binary(op: OpType, table: 'AddOptions' | 'SubOptions' | 'MulOptions' | 'DivOptions') {
  return (c: Ctx): void => c.bind(fused(c, c.emit(op, [c.input(0), c.input(1)]), c.options(table).i8('fused_activation_function')));
}
function pool(op: 'maxPool2d' | 'avgPool2d') {
  return (c: Ctx): void => {
    const o = c.options('Pool2DOptions');
    rankOf(c, 0, 4, 'input');
    const attrs = { layout: 'NHWC', strides: positive(c, 'strides', [o.i32('stride_h'), o.i32('stride_w')]), kernel: positive(c, 'filter', [o.i32('filter_height'), o.i32('filter_width')]), padding: padding(c, o.i8('padding')) };
    c.bind(fused(c, c.emit(op, [c.input(0)], attrs), o.i8('fused_activation_function')));
  };
}
function padOp(c: Ctx): void {
  const p = c.ints(1, 'paddings');
  const r = p.length / 2;
  const value = c.has(2) ? Number((c.konst(2)?.data as ArrayLike<number> | undefined)?.[0] ?? Number.NaN) : 0;
  if (Number.isNaN(value)) throw c.fail('the pad value must be constant');
  const pads = [...Array.from({ length: r }, (_, i) => p[2 * i]!), ...Array.from({ length: r }, (_, i) => p[2 * i + 1]!)];
  c.bind(c.emit('pad', [c.input(0)], { pads, value }));
}
/** TFLite's sampling rules as ONNX coordinate modes (the inverse of the TFLite writer's resizeBuiltin). */
function resize(c: Ctx, mode: 'linear' | 'nearest'): void {
  const o = mode === 'linear' ? c.options('ResizeBilinearOptions') : c.options('ResizeNearestNeighborOptions');
  const align = o.bool('align_corners');
  const half = o.bool('half_pixel_centers');
  if (align && half) throw c.fail('align_corners with half_pixel_centers is not supported');
  const size = c.ints(1, 'size');
  if (size.length !== 2 || size.some((d) => !(d >= 1))) throw inputError(c.b.file, `${c.where}: size [${size}] must be two positive dims`);
  const [h, w] = size;
  const [n, , , ch] = rankOf(c, 0, 4, 'input') as [number, number, number, number];
  const [, ih, iw] = c.shape(0);
  // 0: the scale follows from the sizes (output / input), as ONNX's Resize with sizes computes it.
  const attrs: Attrs = { sizes: [n, h!, w!, ch], scales: [1, h === ih ? 1 : 0, w === iw ? 1 : 0, 1], mode };
  if (mode === 'linear') attrs.coordinateMode = align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric';
  else if (align) Object.assign(attrs, { coordinateMode: 'align_corners', nearestMode: 'round_prefer_ceil' });
  else Object.assign(attrs, { coordinateMode: half ? 'tf_half_pixel_for_nn' : 'asymmetric', nearestMode: 'floor' });
  c.bind(c.emit('resize', [c.input(0)], attrs));
}

export const TFLITE_SOURCE_OPS = Object.keys(OPS);

/** Decoded constant of tensor `i`: sparse densified, float16 widened, int8/uint8 dequantized (warned). */
function decodeConstant(info: TfliteModelInfo, i: number, r: Reader, dequantized: string[]): Tensor | undefined {
  const t = info.tensors[i]!;
  if (!t.data.length) return undefined;
  if (!isDType(t.dtype)) return undefined;
  const dtype: DType = t.dtype;
  let bytes = t.data;
  if (t.sparsity) bytes = densify(t.sparsity, t.shape, bytes, DTYPES[dtype].bytes, (what) => r.fail(`sparse tensor '${t.name}': ${what}`));
  const copy = bytes.slice(); // aligned for the typed array
  const n = sizeOf(t.shape);
  if (dtype === 'float16') return { name: t.name, dtype: 'float32', shape: t.shape, data: decodeHalfs(new Uint16Array(copy.buffer, 0, n)) };
  if ((dtype === 'int8' || dtype === 'uint8') && t.quant) {
    const q = t.quant;
    const raw = dtype === 'int8' ? new Int8Array(copy.buffer, 0, n) : copy;
    const axis = q.scale.length > 1 ? q.axis : -1;
    if (axis >= t.shape.length || (axis >= 0 && t.shape[axis] !== q.scale.length) || !q.scale.every(Number.isFinite))
      r.fail(`tensor '${t.name}' has ${q.scale.length} scales for shape [${t.shape}] along axis ${q.axis}`);
    const inner = axis < 0 ? 1 : sizeOf(t.shape.slice(axis + 1));
    const dim = axis < 0 ? 1 : t.shape[axis]!;
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const ch = axis < 0 ? 0 : Math.floor(k / inner) % dim;
      out[k] = (raw[k]! - (q.zeroPoint[ch] ?? q.zeroPoint[0] ?? 0)) * q.scale[ch]!;
    }
    dequantized.push(t.name);
    return { name: t.name, dtype: 'float32', shape: t.shape, data: out };
  }
  const data = new DTYPES[dtype].array(copy.buffer, 0, n);
  return { name: t.name, dtype, shape: t.shape, data } as Tensor;
}

export function readTfliteGraph(file: string, warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): Graph {
  const { info, reader: r } = readTflite(file);
  // Full-integer files: their activations are int8, and reading them as float would bake the file's rounding in.
  const q = info.operators.findIndex((o) => o.op === 'QUANTIZE');
  if (q >= 0) throw new EdgelmError('unsupported', `${file}: operator ${q} (QUANTIZE): int8 activations (a full-integer model) are not supported as a source`, 'read the float model and quantize that');
  const unsupported = info.operators.flatMap((o, i) => (Object.hasOwn(OPS, o.op) ? [] : [`${o.op === 'CUSTOM' ? `custom op '${o.custom}'` : o.op} (operator ${i})`]));
  if (unsupported.length)
    throw new EdgelmError('unsupported', `${file}: unsupported TFLite operator${unsupported.length > 1 ? 's' : ''}: ${unsupported.slice(0, 5).join(', ')}${unsupported.length > 5 ? ` and ${unsupported.length - 5} more` : ''}`, `supported: ${TFLITE_SOURCE_OPS.join(', ')}`);
  const b = new ReaderGraphBuilder(file);
  const values = new Map<number, string>();
  const folded = new Map<number, Tensor>();
  const decoded = new Map<number, Tensor | undefined>();
  const dequantized: string[] = [];
  const konst = (i: number): Tensor | undefined => {
    if (folded.has(i)) return folded.get(i);
    if (!decoded.has(i)) decoded.set(i, decodeConstant(info, i, r, dequantized));
    return decoded.get(i);
  };
  const activationType = (i: number, where: string): DType => {
    const t = info.tensors[i]!;
    if (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool' || t.dtype === 'int64') return t.dtype;
    throw new EdgelmError('unsupported', `${file}: ${where}: ${t.dtype} tensor '${t.name}' (int8 or float16 activations: a quantized model) is not supported as a source; read the float model`);
  };
  for (const i of info.inputs) {
    const t = info.tensors[i]!;
    values.set(i, b.addInput(t.name, activationType(i, 'input'), t.shape));
  }
  info.operators.forEach((op, index) => {
    const where = `operator ${index} (${op.op})`;
    const ctx: Ctx = {
      b,
      op,
      where,
      has: (i) => op.inputs[i] !== undefined && op.inputs[i] !== -1,
      input(i) {
        const t = op.inputs[i];
        if (t === undefined || t === -1) throw inputError(file, `${where} needs input ${i}`);
        const v = values.get(t);
        if (v !== undefined) return v;
        const k = konst(t);
        if (!k) {
          if (info.tensors[t]!.data.length) throw this.fail(`constant '${info.tensors[t]!.name}' of type ${info.tensors[t]!.dtype} is not supported`);
          throw inputError(file, `${where} reads tensor ${t} ('${info.tensors[t]!.name}'), which no operator computes`);
        }
        const name = b.addConstant(k);
        values.set(t, name);
        return name;
      },
      konst: (i) => (ctx.has(i) ? konst(op.inputs[i]!) : undefined),
      ints(i, what) {
        const k = this.konst(i);
        if (!k || (k.dtype !== 'int32' && k.dtype !== 'int64')) throw this.fail(`the ${what} must be an integer constant`);
        return Array.from(k.data as ArrayLike<number | bigint>, Number);
      },
      options: (table) => optionsOf(r, op, table, where),
      shape: (i) => {
        const t = i < 0 ? op.outputs[0] : op.inputs[i];
        if (t === undefined || t === -1) throw inputError(file, `${where} needs input ${i}`);
        return info.tensors[t]!.shape;
      },
      emit: (irOp, inputs, attrs = {}, suffix) => {
        const out = info.tensors[op.outputs[0]!]!.name;
        return b.add1(irOp, inputs, attrs, { name: suffix ? `${out}/${suffix}` : out, source: where });
      },
      bind: (value, output = 0) => {
        activationType(op.outputs[output]!, where);
        values.set(op.outputs[output]!, value);
      },
      bindConst: (t) => {
        folded.set(op.outputs[0]!, { ...t, name: info.tensors[op.outputs[0]!]!.name });
      },
      fail: (what) => new EdgelmError('unsupported', `${file}: ${where}: ${what}`),
    };
    if (op.outputs.length !== 1 || op.outputs[0] === -1) throw inputError(file, `${where} has ${op.outputs.length} outputs, expected 1`);
    // Inputs of the op must be float activations or constants: a quantized activation is refused by name.
    op.inputs.forEach((t) => {
      if (t !== -1 && !info.tensors[t]!.data.length && !folded.has(t)) activationType(t, where);
    });
    OPS[op.op]!(ctx);
  });
  const outputs = info.outputs.map((i) => {
    const v = values.get(i);
    if (v !== undefined) return v;
    const k = konst(i);
    if (k) return b.addConstant(k);
    throw inputError(file, `output tensor ${i} ('${info.tensors[i]!.name}') is not computed`);
  });
  if (dequantized.length)
    warn(`${dequantized.length} int8 weight tensor${dequantized.length > 1 ? 's' : ''} (a dynamic-range model) dequantized to float32 (${dequantized.slice(0, 3).join(', ')}${dequantized.length > 3 ? ', ...' : ''}): quantizing again compounds the file's rounding; start from the float model where you have it`);
  // Text metadata only (a vocabulary edgelm wrote); the converter's binary entries are the file's, not the model's.
  const text = Object.entries(info.metadata).filter(([k, v]) => k !== 'edgelm.source_format' && !/[\u0000-\u0008\ufffd]/.test(v));
  return b.build('tflite_model', 'tflite', outputs, { producer: info.description || 'TFLite', ...Object.fromEntries(text) });
}
