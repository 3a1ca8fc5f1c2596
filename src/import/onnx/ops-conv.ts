// ONNX → IR for convolution, pooling, padding and the local normalizations. The IR's spatial ops
// are 2-D (NCHW here, HWIO kernels), and everything else is composed from them so that every
// writer has it: 1-D ops run as 2-D with a unit height, 3-D pooling as two separable 2-D pools,
// dilated pooling as a maximum (or sum) over strided slices, ceil_mode as extra end padding, and
// run-time weights are transposed in the graph. Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { transposeData, type Dim, type QuantParams, type Tensor } from '../../ir/tensor.js';
import { attrFloat, attrInt, attrInts, attrStr, constScalar, emit, requiredInts, type OnnxCtx, type Translate } from './ctx.js';
import { conv3d, convTranspose3d } from './ops-conv3d.js';
import { runTimeValues } from './shapes.js';

export const badInput = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

/** An intermediate IR node of the ONNX node. */
export const step = (c: OnnxCtx, op: OpType, inputs: string[], suffix: string, attrs: Attrs = {}): string =>
  c.b.add1(op, inputs, attrs, { name: `${c.name}/${suffix}`, source: c.name });

/** The node's last IR node (bound to its output) when `last`, else an intermediate one. */
const put = (c: OnnxCtx, last: boolean, op: OpType, inputs: string[], suffix: string, attrs: Attrs = {}): string =>
  last ? emit(c, op, inputs, attrs)[0]! : step(c, op, inputs, suffix, attrs);

const ones = (n: number): number[] => Array.from({ length: n }, () => 1);
export const isNum = (d: Dim | undefined): d is number => typeof d === 'number';

/** A window's attributes, one entry per spatial dim (pads: begins, then ends). */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

export function readWindow(c: OnnxCtx, kernel: number[]): Window {
  const n = kernel.length;
  const w: Window = {
    kernel,
    strides: attrInts(c, 'strides', ones(n)),
    dilations: attrInts(c, 'dilations', ones(n)),
    pads: attrInts(c, 'pads', Array.from({ length: 2 * n }, () => 0)),
    autoPad: attrStr(c, 'auto_pad', 'NOTSET'),
  };
  // Checked here: shape inference takes them as given, and a short or negative list gives NaN dims.
  const ints = (v: number[], len: number, min: number): boolean => v.length === len && v.every((d) => Number.isSafeInteger(d) && d >= min);
  if (!ints(kernel, n, 1) || !ints(w.strides, n, 1) || !ints(w.dilations, n, 1) || !ints(w.pads, 2 * n, 0))
    throw badInput(c, `invalid kernel_shape [${kernel}], strides [${w.strides}], dilations [${w.dilations}] or pads [${w.pads}]`);
  return w;
}

/** The 1-D window as 2-D with a unit height (kernel 1, stride 1, no pads). */
function lift(w: Window): Window {
  if (w.kernel.length !== 1) return w;
  return { kernel: [1, w.kernel[0]!], strides: [1, w.strides[0]!], dilations: [1, w.dilations[0]!], pads: [0, w.pads[0]!, 0, w.pads[1]!], autoPad: w.autoPad };
}

/** The IR's spatial attributes of a 2-D window; SAME_LOWER (extra pad first) needs the input size. */
function spatial2d(c: OnnxCtx, w: Window, sizes: Dim[]): Attrs {
  let padding = 'EXPLICIT';
  let pads = w.pads;
  if (w.autoPad === 'SAME_UPPER') padding = 'SAME';
  else if (w.autoPad === 'VALID') padding = 'VALID';
  else if (w.autoPad === 'SAME_LOWER') pads = samePads(c, w, sizes, true);
  return { layout: 'NCHW', strides: w.strides, dilations: w.dilations, padding, pads };
}

/** Explicit pads of auto_pad SAME: output ⌈size / stride⌉, the odd pad last (upper) or first (lower). */
function samePads(c: OnnxCtx, w: Window, sizes: Dim[], lower: boolean): number[] {
  const n = w.kernel.length;
  const pads = Array.from({ length: 2 * n }, () => 0);
  sizes.forEach((size, i) => {
    if (!isNum(size)) throw c.fail(`auto_pad ${w.autoPad} needs static spatial dims`);
    const eff = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    const total = Math.max(0, (Math.ceil(size / w.strides[i]!) - 1) * w.strides[i]! + eff - size);
    const small = Math.floor(total / 2);
    pads[i] = lower ? total - small : small;
    pads[i + n] = lower ? small : total - small;
  });
  return pads;
}

/** The window's pads made explicit (auto_pad resolved against static sizes). */
export function explicitPads(c: OnnxCtx, w: Window, sizes: Dim[]): number[] {
  if (w.autoPad === 'VALID') return w.pads.map(() => 0);
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return samePads(c, w, sizes, w.autoPad === 'SAME_LOWER');
  return w.pads;
}

/**
 * The stored quantization of a weight moved to its IR layout: `perm` as in transposeData (new axis i
 * is old axis perm[i]); without one, a per-axis quantization has no single axis left and is dropped.
 */
export function permutedQuant(w: Tensor, perm: number[] | undefined): { quant?: QuantParams } {
  const q = w.quant;
  if (!q) return {};
  if (q.axis === undefined) return { quant: q };
  return perm ? { quant: { ...q, axis: perm.indexOf(q.axis) } } : {};
}

/** A 1-D weight [O, I, k] as 2-D [O, I, 1, k] (its quantization axis moved along). */
function liftWeight(w: Tensor): Tensor {
  if (w.shape.length !== 3) return w;
  const q = w.quant;
  const quant = q && q.axis === 2 ? { ...q, axis: 3 } : q;
  return { ...w, shape: [w.shape[0]!, w.shape[1]!, 1, w.shape[2]!], ...(quant ? { quant } : {}) };
}

function conv(c: OnnxCtx): void {
  const w = c.konst(1);
  const wType = c.typeOf(c.input(1));
  if (wType.dtype !== 'float32') throw c.fail(`Conv weights must be float32 (got ${wType.dtype})`);
  const rank = wType.shape.length;
  if (rank === 5) return conv3d(c);
  if (rank !== 3 && rank !== 4) throw c.fail(`only 1-D and 2-D convolution is supported (weight of rank ${rank})`);
  if (!wType.shape.every(isNum)) throw c.fail('Conv weights of run-time shape are not supported');
  const oneD = rank === 3;
  const x = c.typeOf(c.input(0));
  const win = readWindow(c, attrInts(c, 'kernel_shape', (wType.shape as number[]).slice(2)));
  const attrs = spatial2d(c, lift(win), oneD ? [1, x.shape[2]!] : x.shape.slice(2));
  const [o, ig, kh, kw] = (oneD ? [wType.shape[0], wType.shape[1], 1, wType.shape[2]] : wType.shape) as [number, number, number, number];
  const x2 = oneD ? step(c, 'unsqueeze', [c.input(0)], 'as_2d', { axes: [2] }) : c.input(0);
  const finish = (op: OpType, inputs: string[], a: Attrs): void => {
    if (!oneD) return void emit(c, op, inputs, a);
    emit(c, 'squeeze', [step(c, op, inputs, op, a)], { axes: [2] });
  };
  const group = attrInt(c, 'group', 1);
  if (!w) {
    // Run-time weights [O, I/group, (kh,) kw] → [kh, kw, I/group, O] in the graph.
    const w2 = oneD ? step(c, 'unsqueeze', [c.input(1)], 'weight_2d', { axes: [2] }) : c.input(1);
    return finish('conv2d', [x2, step(c, 'transpose', [w2], 'kernel', { perm: [2, 3, 1, 0] }), c.input(2)], { ...attrs, group });
  }
  const w4 = liftWeight(w);
  if (group > 1 && ig === 1 && group === x.shape[1]) {
    // Depthwise: [C·mult, 1, kh, kw] → [kh, kw, C, mult] (output channel c·mult + m in both).
    const dw = transposeData(w4.data as Float32Array, [o, kh, kw], [1, 2, 0]);
    const wt = c.b.addConstant({ name: `${c.name}/depthwise_kernel`, dtype: 'float32', shape: [kh, kw, group, o / group], data: dw, ...permutedQuant(w4, o === group ? [2, 3, 0, 1] : undefined) });
    return finish('depthwiseConv2d', [x2, wt, c.input(2)], attrs);
  }
  const hwio = transposeData(w4.data as Float32Array, w4.shape, [2, 3, 1, 0]);
  const wt = c.b.addConstant({ name: `${c.name}/kernel`, dtype: 'float32', shape: [kh, kw, ig, o], data: hwio, ...permutedQuant(w4, [2, 3, 1, 0]) });
  finish('conv2d', [x2, wt, c.input(2)], { ...attrs, group });
}

/** A constant [I, O, kh, kw] kernel with dilation as the equivalent undilated one, zeros between the taps. */
export function dilateKernel(w: Tensor, d: number[]): Tensor {
  const [ci, co, kh, kw] = w.shape as [number, number, number, number];
  const [eh, ew] = [(kh - 1) * d[0]! + 1, (kw - 1) * d[1]! + 1];
  const src = w.data as Float32Array;
  const out = new Float32Array(ci * co * eh * ew);
  for (let p = 0; p < ci * co; p++)
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) out[(p * eh + i * d[0]!) * ew + j * d[1]!] = src[(p * kh + i) * kw + j]!;
  return { ...w, shape: [ci, co, eh, ew], data: out, quant: undefined };
}

function convTranspose(c: OnnxCtx): void {
  const konst = c.konst(1);
  const wType = c.typeOf(c.input(1));
  const rank = wType.shape.length;
  if (wType.dtype !== 'float32') throw c.fail(`ConvTranspose weights must be float32 (got ${wType.dtype})`);
  if (rank === 5) return convTranspose3d(c);
  if (rank !== 3 && rank !== 4) throw c.fail(`only 1-D and 2-D ConvTranspose is supported (weight of rank ${rank})`);
  if (!wType.shape.every(isNum)) throw c.fail('ConvTranspose weights of run-time shape are not supported');
  if (attrInt(c, 'group', 1) !== 1) throw c.fail('grouped ConvTranspose is not supported');
  const oneD = rank === 3;
  const liftV = (v: number[], unit: number): number[] => (oneD ? [unit, ...v] : [...v]);
  const n = rank - 2;
  const dil = liftV(attrInts(c, 'dilations', ones(n)), 1);
  const strides = liftV(attrInts(c, 'strides', ones(n)), 1);
  const outputPadding = liftV(attrInts(c, 'output_padding', Array.from({ length: n }, () => 0)), 0);
  const p = attrInts(c, 'pads', Array.from({ length: 2 * n }, () => 0));
  let pads = oneD ? [0, p[0]!, 0, p[1]!] : [...p];
  const autoPad = attrStr(c, 'auto_pad', 'NOTSET');
  const outputShape = attrInts(c, 'output_shape', []);
  const dilated = dil.some((d) => d !== 1);
  if (dilated && !konst) throw c.fail('dilated ConvTranspose with run-time weights is not supported');
  let w = konst ? liftWeight(konst) : undefined;
  if (w && dilated) w = dilateKernel(w, dil);
  // Run-time weights are undilated (refused above otherwise).
  const [cin, cout, kh, kw] = (w ? w.shape : [wType.shape[0], wType.shape[1], ...liftV((wType.shape as number[]).slice(2), 1)]) as [number, number, number, number];
  const x = c.typeOf(c.input(0)).shape;
  if (outputShape.length || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const sizes = oneD ? [1, x[2]] : [x[2], x[3]];
    if (!sizes.every(isNum)) throw c.fail('ConvTranspose with output_shape or auto_pad needs static spatial dims');
    const target = outputShape.length ? liftV(outputShape.slice(-n), 1) : sizes.map((s, i) => s * strides[i]!);
    pads = [0, 0, 0, 0];
    sizes.forEach((size, i) => {
      const k = i === 0 ? kh : kw;
      const total = strides[i]! * (size - 1) + outputPadding[i]! + k - target[i]!;
      // An output_shape past the full output adds rows at the end, as output_padding does.
      if (total < 0) {
        outputPadding[i] = outputPadding[i]! - total;
        return;
      }
      const upper = autoPad === 'SAME_LOWER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
      pads[i] = total - upper;
      pads[i + 2] = upper;
    });
  }
  let wt: string;
  if (w) {
    wt = c.b.addConstant({ name: `${c.name}/kernel`, dtype: 'float32', shape: [kh, kw, cout, cin], data: transposeData(w.data as Float32Array, w.shape, [2, 3, 1, 0]) });
  } else {
    // Run-time weights [I, O, (kh,) kw] → [kh, kw, O, I] in the graph.
    const w2 = oneD ? step(c, 'unsqueeze', [c.input(1)], 'weight_2d', { axes: [2] }) : c.input(1);
    wt = step(c, 'transpose', [w2], 'kernel', { perm: [2, 3, 1, 0] });
  }
  const x2 = oneD ? step(c, 'unsqueeze', [c.input(0)], 'as_2d', { axes: [2] }) : c.input(0);
  const attrs = { layout: 'NCHW', strides, pads, outputPadding };
  if (!oneD) return void emit(c, 'conv2dTranspose', [x2, wt, c.input(2)], attrs);
  emit(c, 'squeeze', [step(c, 'conv2dTranspose', [x2, wt, c.input(2)], 'conv2dTranspose', attrs)], { axes: [2] });
}

type PoolKind = 'max' | 'avg';

/**
 * A 2-D pool of NCHW `x` (spatial sizes `sizes`). ceil_mode: the last window may hang past the
 * padded input (but must start inside the input or its begin pad); it is padded further at the end
 * (−∞ for max; for average those cells are never counted). Dilation: a maximum (sum) of strided slices.
 */
function pool2d(c: OnnxCtx, kind: PoolKind, x: string, sizes: Dim[], w: Window, ceil: boolean, countIncludePad: boolean, last: boolean, tag: string): string {
  const op = kind === 'max' ? 'maxPool2d' : 'avgPool2d';
  const dilated = w.dilations.some((d) => d !== 1);
  let pads = w.pads;
  const extra = [0, 0];
  if (ceil || dilated) {
    if (!sizes.every(isNum)) throw c.fail(`${ceil ? 'ceil_mode=1' : 'dilated pooling'} needs static spatial dims`);
    pads = explicitPads(c, w, sizes);
    if (ceil)
      sizes.forEach((size, i) => {
        const eff = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
        const span = size + pads[i]! + pads[i + 2]!;
        let out = Math.ceil((span - eff) / w.strides[i]!) + 1;
        if ((out - 1) * w.strides[i]! >= size + pads[i]!) out--;
        extra[i] = Math.max(0, (out - 1) * w.strides[i]! + eff - span);
      });
  }
  if (!dilated && !extra.some((e) => e > 0)) {
    return put(c, last, op, [x], `${tag}pool`, { ...spatial2d(c, w, sizes), kernel: w.kernel, countIncludePad });
  }
  let src = x;
  if (kind === 'avg' && countIncludePad && pads.some((p) => p > 0)) {
    // The begin/end pads count, the ceil_mode cells do not: the counted pads become zeros of the input.
    src = step(c, 'pad', [x], `${tag}pad`, { pads: [0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!], mode: 'constant', value: 0 });
    sizes = sizes.map((s, i) => (s as number) + pads[i]! + pads[i + 2]!);
    pads = [0, 0, 0, 0];
  }
  const allPads = [pads[0]!, pads[1]!, pads[2]! + extra[0]!, pads[3]! + extra[1]!];
  if (!dilated) return put(c, last, op, [src], `${tag}pool`, { layout: 'NCHW', strides: w.strides, dilations: [1, 1], padding: 'EXPLICIT', pads: allPads, kernel: w.kernel, countIncludePad: false });
  return dilatedPool(c, kind, src, sizes as number[], w, allPads, last, tag);
}

/** Dilated pooling: the maximum (or the sum over the counted cells) of one strided slice per kernel tap. */
function dilatedPool(c: OnnxCtx, kind: PoolKind, x: string, sizes: number[], w: Window, pads: number[], last: boolean, tag: string): string {
  const [kh, kw] = w.kernel as [number, number];
  const [dh, dw] = w.dilations as [number, number];
  const [sh, sw] = w.strides as [number, number];
  const out = [0, 1].map((i) => Math.floor((sizes[i]! + pads[i]! + pads[i + 2]! - ((w.kernel[i]! - 1) * w.dilations[i]! + 1)) / w.strides[i]!) + 1) as [number, number];
  const padded = pads.some((p) => p > 0)
    ? step(c, 'pad', [x], `${tag}pad`, { pads: [0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!], mode: 'constant', value: kind === 'max' ? -Infinity : 0 })
    : x;
  let acc = '';
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const starts = [i * dh, j * dw];
      const s = step(c, 'slice', [padded], `${tag}tap${i}_${j}`, { starts, ends: [starts[0]! + (out[0] - 1) * sh + 1, starts[1]! + (out[1] - 1) * sw + 1], axes: [2, 3], steps: [sh, sw] });
      const isLast = i === kh - 1 && j === kw - 1;
      acc = !acc ? s : put(c, isLast && last && kind === 'max', kind === 'max' ? 'maximum' : 'add', [acc, s], `${tag}acc${i}_${j}`);
    }
  if (kind === 'max') return acc;
  // The divisor per output cell: taps inside the input (counted pads are already zeros of it).
  const inside = (pos: number, i: number): boolean => pos >= pads[i]! && pos < pads[i]! + sizes[i]!;
  const count = new Float32Array(out[0] * out[1]);
  for (let a = 0; a < out[0]; a++)
    for (let b = 0; b < out[1]; b++) {
      let k = 0;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) if (inside(a * sh + i * dh, 0) && inside(b * sw + j * dw, 1)) k++;
      count[a * out[1] + b] = 1 / k;
    }
  const inv = c.b.addConstant({ name: `${c.name}/${tag}inverse_count`, dtype: 'float32', shape: [1, 1, out[0], out[1]], data: count });
  return put(c, last, 'mul', [acc, inv], `${tag}mean`);
}

function pool(kind: PoolKind): Translate {
  return (c) => {
    if (c.outputs[1]) throw c.fail(`output 1 (Indices, '${c.outputs[1]}') is not supported`);
    const x = c.typeOf(c.input(0));
    const win = readWindow(c, attrInts(c, 'kernel_shape', []));
    const n = win.kernel.length;
    if (n < 1 || n > 3) throw c.fail(`only 1-D, 2-D and 3-D ${c.opType} is supported (kernel of rank ${n})`);
    if (x.shape.length !== n + 2) throw badInput(c, `a kernel of rank ${n} needs an input of rank ${n + 2}, not ${x.shape.length}`);
    const ceil = attrInt(c, 'ceil_mode', 0) === 1;
    const countIncludePad = attrInt(c, 'count_include_pad', 0) === 1;
    if (n === 3) return pool3d(c, kind, win, x.shape.slice(2), ceil, countIncludePad);
    if (n === 2) return void pool2d(c, kind, c.input(0), x.shape.slice(2), win, ceil, countIncludePad, true, '');
    const x2 = step(c, 'unsqueeze', [c.input(0)], 'as_2d', { axes: [2] });
    emit(c, 'squeeze', [pool2d(c, kind, x2, [1, x.shape[2]!], lift(win), ceil, countIncludePad, false, '')], { axes: [2] });
  };
}

/**
 * A 3-D pool as a pool over (H, W) then one over D: max and sum are separable, and so is the count
 * an average divides by, since the cells it counts form a box.
 */
function pool3d(c: OnnxCtx, kind: PoolKind, w: Window, sizes: Dim[], ceil: boolean, countIncludePad: boolean): void {
  const x = c.typeOf(c.input(0)).shape;
  const dims = [x[1], ...sizes];
  if (!dims.every(isNum)) throw c.fail('3-D pooling needs static channel and spatial dims');
  const [ch, d, h, wd] = dims as [number, number, number, number];
  const pads = explicitPads(c, w, sizes);
  const pick = (ix: number[]): Window => ({
    kernel: ix.map((i) => (i < 0 ? 1 : w.kernel[i]!)), strides: ix.map((i) => (i < 0 ? 1 : w.strides[i]!)), dilations: ix.map((i) => (i < 0 ? 1 : w.dilations[i]!)),
    pads: [...ix.map((i) => (i < 0 ? 0 : pads[i]!)), ...ix.map((i) => (i < 0 ? 0 : pads[i + 3]!))], autoPad: 'NOTSET',
  });
  const planes = step(c, 'reshape', [c.input(0)], 'planes', { shape: [0, ch * d, h, wd] });
  const y1 = pool2d(c, kind, planes, [h, wd], pick([1, 2]), ceil, countIncludePad, false, 'hw_');
  const [, , oh, ow] = c.typeOf(y1).shape as number[];
  const cols = step(c, 'reshape', [y1], 'columns', { shape: [0, ch, d, oh! * ow!] });
  const y2 = pool2d(c, kind, cols, [d, oh! * ow!], pick([0, -1]), ceil, countIncludePad, false, 'd_');
  const od = c.typeOf(y2).shape[2]!;
  emit(c, 'reshape', [y2], { shape: [0, ch, od, oh!, ow!] });
}

/** Pad: constant and reflect are IR pads; edge and wrap gather each padded axis by constant indices. */
function pad(c: OnnxCtx): void {
  const mode = attrStr(c, 'mode', 'constant');
  if (c.opset >= 18 && c.input(3)) throw c.fail('Pad with axes is not supported');
  // Pads or the fill value the model is fed: value inputs of the IR pad (constant and reflect modes).
  const given = c.opset >= 11 ? runTimeValues(c, 1, 'pads') : undefined;
  const givenValue = c.opset >= 11 && c.input(2) && !c.konst(2) ? c.input(2) : undefined;
  if (given || givenValue) {
    if (mode !== 'constant' && mode !== 'reflect') throw c.fail(`Pad mode '${mode}' with run-time pads is not supported`);
    const pads = given ? [] : requiredInts(c, 1, 'pads');
    return void emit(c, 'pad', [c.input(0), given ?? '', givenValue ?? ''], { pads, mode, value: givenValue ? 0 : c.input(2) ? constScalar(c, 2, 'constant_value') : 0 });
  }
  const pads = c.opset >= 11 ? requiredInts(c, 1, 'pads') : attrInts(c, 'pads', []);
  const value = c.opset >= 11 ? (c.input(2) ? constScalar(c, 2, 'constant_value') : 0) : attrFloat(c, 'value', 0);
  if (mode === 'constant' || mode === 'reflect') return void emit(c, 'pad', [c.input(0)], { pads, mode, value });
  if (mode !== 'edge' && mode !== 'wrap') throw c.fail(`Pad mode '${mode}' is not supported`);
  const shape = c.typeOf(c.input(0)).shape;
  const r = shape.length;
  if (pads.length !== 2 * r) throw badInput(c, `pads [${pads}] need ${2 * r} entries for rank ${r}`);
  const axes = shape.flatMap((_, i) => (pads[i] !== 0 || pads[i + r] !== 0 ? [i] : []));
  if (!axes.length) return c.bind(0, c.input(0));
  let v = c.input(0);
  axes.forEach((ax, k) => {
    const size = shape[ax];
    if (!isNum(size) || size < 1) throw c.fail(`Pad mode '${mode}' needs a static, non-empty dim ${ax}`);
    const [before, after] = [pads[ax]!, pads[ax + r]!];
    if (size + before + after < 0) throw badInput(c, `pads [${pads}] crop dim ${ax} of size ${size} below zero`);
    // Source index of each output position; negative pads crop.
    const idx = Array.from({ length: size + before + after }, (_, o) => {
      const i = o - before;
      return mode === 'edge' ? Math.min(size - 1, Math.max(0, i)) : ((i % size) + size) % size;
    });
    const at = c.b.addConstant({ name: `${c.name}/indices${ax}`, dtype: 'int32', shape: [idx.length], data: Int32Array.from(idx) });
    v = put(c, k === axes.length - 1, 'gather', [v, at], `axis${ax}`, { axis: ax });
  });
}

/** LRN: x / (bias + α/size · Σ x² over `size` neighbouring channels)^β, the sum an average pool over channels. */
function lrn(c: OnnxCtx): void {
  const size = attrInt(c, 'size', 0);
  const alpha = attrFloat(c, 'alpha', 1e-4);
  const beta = attrFloat(c, 'beta', 0.75);
  const bias = attrFloat(c, 'bias', 1);
  if (!Number.isSafeInteger(size) || size < 1) throw badInput(c, `invalid size ${size}`);
  const shape = c.typeOf(c.input(0)).shape;
  const [ch, ...rest] = shape.slice(1);
  if (!isNum(ch) || !rest.every(isNum)) throw c.fail('LRN needs static channel and spatial dims');
  const plane = (rest as number[]).reduce((p, d) => p * d, 1);
  const sq = step(c, 'mul', [c.input(0), c.input(0)], 'square');
  const cols = step(c, 'reshape', [sq], 'channels', { shape: [0, 1, ch, plane] });
  const lo = Math.floor((size - 1) / 2);
  const mean = step(c, 'avgPool2d', [cols], 'window', { layout: 'NCHW', strides: [1, 1], dilations: [1, 1], padding: 'EXPLICIT', pads: [lo, 0, size - 1 - lo, 0], kernel: [size, 1], countIncludePad: true });
  const k = (name: string, v: number): string => c.b.addConstant({ name: `${c.name}/${name}`, dtype: 'float32', shape: [], data: Float32Array.of(v) });
  const back = step(c, 'reshape', [mean], 'unchannels', { shape: shape.map((d, i) => (i === 0 ? 0 : d)) });
  const scaled = step(c, 'add', [step(c, 'mul', [back, k('alpha', alpha)], 'scaled'), k('bias', bias)], 'biased');
  emit(c, 'div', [c.input(0), step(c, 'pow', [scaled, k('beta', beta)], 'denominator')]);
}

/** MeanVarianceNormalization, as its ONNX function: (x − E[x]) / (√(E[x²] − E[x]²) + 1e-9). */
function mvn(c: OnnxCtx): void {
  const axes = attrInts(c, 'axes', [0, 2, 3]);
  const x = c.input(0);
  const mean = step(c, 'reduceMean', [x], 'mean', { axes, keepDims: true });
  const meanSq = step(c, 'reduceMean', [step(c, 'mul', [x, x], 'square')], 'mean_square', { axes, keepDims: true });
  const variance = step(c, 'sub', [meanSq, step(c, 'mul', [mean, mean], 'square_mean')], 'variance');
  const eps = c.b.addConstant({ name: `${c.name}/epsilon`, dtype: 'float32', shape: [], data: Float32Array.of(1e-9) });
  emit(c, 'div', [step(c, 'sub', [x, mean], 'centred'), step(c, 'add', [step(c, 'sqrt', [variance], 'std'), eps], 'std_eps')]);
}

export const CONV_OPS: Record<string, Translate> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  Pad: pad,
  LRN: lrn,
  MeanVarianceNormalization: mvn,
};
