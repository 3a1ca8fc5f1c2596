// ONNX → IR for the integer convolution and matrix product ops: ConvInteger, QLinearConv and
// QLinearMatMul. As MatMulInteger (ops.ts), integer values are held in float32: the operands centred
// by their zero points, the product summed in float32 (exact while the sums stay below 2^24), and
// for the QLinear ops requantized as onnxruntime does: round(acc · x_scale·w_scale / y_scale) (ties
// to even) + y_zero_point, saturated to the output's integer type. The convolution itself is the
// Conv translation (ops-conv.ts) run on the centred operands, so 1-, 2- and 3-D, pads, strides,
// groups and run-time weights come with it. Merged into ONNX_OPS (ops.ts).
import type { DType } from '../../ir/dtype.js';
import { emit, values, type OnnxCtx } from './ctx.js';
import { CONV_OPS } from './ops-conv.js';

/** Saturation range of the integer types these ops read and write. */
const RANGE: Partial<Record<DType, [number, number]>> = { int8: [-128, 127], uint8: [0, 255] };

const step = (c: OnnxCtx, op: 'cast' | 'sub' | 'mul' | 'div' | 'add' | 'round' | 'reshape', inputs: string[], suffix: string, attrs = {}): string =>
  c.b.add1(op, inputs, attrs, { name: `${c.name}/${suffix}`, source: c.name });

function integerInput(c: OnnxCtx, i: number, what: string): DType {
  const { dtype } = c.typeOf(c.input(i));
  if (!RANGE[dtype]) throw c.fail(`${what} (input ${i}) of type ${dtype} is not supported (int8, uint8)`);
  return dtype;
}

/**
 * Input i (a scale or zero point) as float32 shaped to broadcast along `axis` of a rank-`rank`
 * value: one value, or one per index of that axis. A constant folds; a run-time one is cast and reshaped.
 */
function param(c: OnnxCtx, i: number, rank: number, axis: number, what: string): string {
  const { dtype, shape } = c.typeOf(c.input(i));
  const n = shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : NaN), 1);
  if (shape.length > 1 || !Number.isFinite(n)) throw c.fail(`${what} (input ${i}) of shape [${shape}] is not supported (a scalar or a static 1-D tensor)`);
  const target = n === 1 ? [] : Array.from({ length: rank }, (_, k) => (k === axis ? n : 1));
  const k = c.konst(i);
  if (k) return c.b.addConstant({ name: `${c.name}/${what}`, dtype: 'float32', shape: target, data: Float32Array.from(values(k)) });
  const f = dtype === 'float32' ? c.input(i) : step(c, 'cast', [c.input(i)], `${what}_float`, { to: 'float32' });
  return target.length ? step(c, 'reshape', [f], `${what}_axis`, { shape: target }) : f;
}

/** Integer input i minus its zero point (input zp, per tensor or along `axis`), in float32; constants fold. */
function centred(c: OnnxCtx, i: number, zp: number, axis: number, what: string): string {
  integerInput(c, i, what);
  const { shape } = c.typeOf(c.input(i));
  const k = c.konst(i);
  const z = c.input(zp) ? c.konst(zp) : undefined;
  if (k && (z || !c.input(zp))) {
    const q = values(k);
    const zs = z ? values(z) : [0];
    const inner = shape.slice(axis + 1).reduce<number>((p, d) => p * (d as number), 1);
    const dim = shape[axis] as number;
    if (zs.length !== 1 && zs.length !== dim) throw c.fail(`zero point of ${what} holds ${zs.length} values for ${dim} along axis ${axis}`);
    const data = Float32Array.from(q, (v, j) => v - (zs.length === 1 ? zs[0]! : zs[Math.floor(j / inner) % dim]!));
    return c.b.addConstant({ name: `${c.name}/${what}_centred`, dtype: 'float32', shape: shape as number[], data });
  }
  const f = step(c, 'cast', [c.input(i)], `${what}_float`, { to: 'float32' });
  return c.input(zp) ? step(c, 'sub', [f, param(c, zp, shape.length, axis, `${what}_zero_point`)], `${what}_centred`) : f;
}

/** The Conv translation on IR values `inputs` (x, w, bias), its output bound to `out` (or the node's output). */
function convOf(c: OnnxCtx, inputs: string[], out: string | undefined): string {
  let y = '';
  const sub: OnnxCtx = {
    ...c,
    inputs,
    outputs: [out ?? c.outputs[0]!],
    input: (i) => inputs[i] ?? '',
    konst: (i) => (inputs[i] ? c.b.constant(inputs[i]!) : undefined),
    bind: (i, v) => {
      if (i === 0) y = v;
      if (!out) c.bind(i, v);
    },
  };
  CONV_OPS.Conv!(sub);
  return y;
}

/** saturate(round(acc · multiplier) + y_zero_point) for the output's integer type. */
function requantize(c: OnnxCtx, acc: string, multiplier: string, yzp: number): void {
  const dtype = c.input(yzp) ? integerInput(c, yzp, 'y_zero_point') : 'uint8';
  const rank = c.typeOf(acc).shape.length;
  const rounded = step(c, 'round', [step(c, 'mul', [acc, multiplier], 'rescaled')], 'rounded');
  const shifted = c.input(yzp) ? step(c, 'add', [rounded, param(c, yzp, rank, 0, 'y_zero_point')], 'shifted') : rounded;
  const [lo, hi] = RANGE[dtype]!;
  emit(c, 'clip', [shifted], { min: lo, max: hi });
}

/** x_scale · w_scale / y_scale in float32 (onnxruntime's order), w_scale per tensor or along `axis`. */
function multiplier(c: OnnxCtx, xs: number, ws: number, ys: number, rank: number, axis: number): string {
  const [a, b, d] = [param(c, xs, rank, axis, 'x_scale'), param(c, ws, rank, axis, 'w_scale'), param(c, ys, rank, axis, 'y_scale')];
  const [ka, kb, kd] = [a, b, d].map((v) => c.b.constant(v));
  if (ka && kb && kd && ka.shape.length === 0 && kd.shape.length === 0) {
    const [sa, sd] = [(ka.data as Float32Array)[0]!, (kd.data as Float32Array)[0]!];
    const data = Float32Array.from(kb.data as Float32Array, (s) => Math.fround(Math.fround(sa * s) / sd));
    return c.b.addConstant({ name: `${c.name}/multiplier`, dtype: 'float32', shape: kb.shape, data });
  }
  return step(c, 'div', [step(c, 'mul', [a, b], 'scale_product'), d], 'multiplier');
}

/** ConvInteger(x, w, x_zero_point, w_zero_point): the convolution of the centred operands (int32 values). */
function convInteger(c: OnnxCtx): void {
  const x = centred(c, 0, 2, 0, 'x');
  const w = centred(c, 1, 3, 0, 'w');
  convOf(c, [x, w, ''], undefined);
}

/** QLinearConv: the centred convolution plus the int32 bias, requantized per output channel. */
function qlinearConv(c: OnnxCtx): void {
  const x = centred(c, 0, 2, 0, 'x');
  const w = centred(c, 3, 5, 0, 'w');
  let bias = '';
  if (c.input(8)) {
    if (c.typeOf(c.input(8)).dtype !== 'int32') throw c.fail(`bias of type ${c.typeOf(c.input(8)).dtype} is not supported (int32)`);
    const k = c.konst(8);
    bias = k ? c.b.addConstant({ name: `${c.name}/bias_float`, dtype: 'float32', shape: k.shape, data: Float32Array.from(values(k)) }) : step(c, 'cast', [c.input(8)], 'bias_float', { to: 'float32' });
  }
  const acc = convOf(c, [x, w, bias], `${c.name}/accumulator`);
  const rank = c.typeOf(acc).shape.length;
  requantize(c, acc, multiplier(c, 1, 4, 6, rank, 1), 7);
}

/** QLinearMatMul: (a − a_zp)·(b − b_zp) requantized; b's scale and zero point per tensor or per column. */
function qlinearMatMul(c: OnnxCtx): void {
  const rankB = c.typeOf(c.input(3)).shape.length;
  for (const i of [1, 2, 6, 7].filter((j) => c.input(j))) {
    const n = c.typeOf(c.input(i)).shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : NaN), 1);
    if (n !== 1) throw c.fail(`per-row ${i === 6 || i === 7 ? 'y' : 'a'} scale or zero point (input ${i}) is not supported`);
  }
  const a = centred(c, 0, 2, 0, 'a');
  const b = centred(c, 3, 5, rankB - 1, 'b');
  const acc = c.b.add1('matMul', [a, b], {}, { name: `${c.name}/accumulator`, source: c.name });
  const rank = c.typeOf(acc).shape.length;
  requantize(c, acc, multiplier(c, 1, 4, 6, rank, rank - 1), 7);
}

export const QLINEAR_OPS: Record<string, (c: OnnxCtx) => void> = {
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
  QLinearMatMul: qlinearMatMul,
};
