// ONNX → IR for 3-D Conv and ConvTranspose as sums over depth taps of 2-D ones, so that every writer
// has them: the input goes depth-major ([N, D, C, H, W]), each depth tap takes a strided slice of the
// depth planes, folds them into the batch and runs the 2-D op with that tap's (H, W) kernel; the
// taps' outputs add up. A transposed convolution is, along depth, an ordinary one over the input with
// zeros inserted between planes (stride) and the taps reversed.
import { transposeData, type Dim, type Tensor } from '../../ir/tensor.js';
import { attrInt, attrInts, attrStr, emit, type OnnxCtx } from './ctx.js';
import { badInput, dilateKernel, explicitPads, isNum, readWindow, step } from './ops-conv.js';

/** Static channel and spatial dims of a 5-D input, or a refusal naming the op. */
function staticDims(c: OnnxCtx, what: string): [number, number, number, number] {
  const x = c.typeOf(c.input(0)).shape;
  if (x.length !== 5) throw badInput(c, `a 3-D ${c.opType} needs an input of rank 5, not ${x.length}`);
  const dims = x.slice(1);
  if (!dims.every(isNum)) throw c.fail(`${what} needs static channel and spatial dims (got [${x}])`);
  return dims as [number, number, number, number];
}

/** x [N, C, D, H, W] → [N, D + before + after, C, H, W] (zero depth pads). */
function depthMajor(c: OnnxCtx, x: string, before: number, after: number): string {
  const t = step(c, 'transpose', [x], 'depth_major', { perm: [0, 2, 1, 3, 4] });
  if (!before && !after) return t;
  return step(c, 'pad', [t], 'depth_pad', { pads: [0, before, 0, 0, 0, 0, after, 0, 0, 0], mode: 'constant', value: 0 });
}

/** The taps' sum [N·od, O, oh, ow] back to [N, O, od, oh, ow]. */
function channelMajor(c: OnnxCtx, acc: string, od: number): void {
  const [, o, oh, ow] = c.typeOf(acc).shape as Dim[];
  const y = step(c, 'reshape', [acc], 'depth_planes', { shape: [-1, od, o!, oh!, ow!] });
  emit(c, 'transpose', [y], { perm: [0, 2, 1, 3, 4] });
}

/**
 * The (H, W) kernel of depth tap t of weight [A, B, kd, kh, kw] as [kh, kw, ·, ·] with `perm`
 * applied to [A, B, kh, kw]: sliced from a constant, or in the graph from run-time weights.
 */
function tapKernel(c: OnnxCtx, w: Tensor | undefined, t: number, perm: number[], dil: number[] = [1, 1]): string {
  const shape = c.typeOf(c.input(1)).shape as number[];
  const [a, b, kd, kh, kw] = shape as [number, number, number, number, number];
  if (!w) {
    const s = step(c, 'slice', [c.input(1)], `weight_tap${t}`, { starts: [t], ends: [t + 1], axes: [2], steps: [1] });
    const sq = step(c, 'squeeze', [s], `weight_tap${t}_2d`, { axes: [2] });
    return step(c, 'transpose', [sq], `kernel_tap${t}`, { perm });
  }
  const src = w.data as Float32Array;
  const plane = new Float32Array(a * b * kh * kw);
  for (let p = 0; p < a * b; p++) plane.set(src.subarray((p * kd + t) * kh * kw, (p * kd + t + 1) * kh * kw), p * kh * kw);
  let t2: Tensor = { name: '', dtype: 'float32', shape: [a, b, kh, kw], data: plane };
  if (dil.some((d) => d !== 1)) t2 = dilateKernel(t2, dil);
  const shapeOut = perm.map((p) => t2.shape[p]!);
  return c.b.addConstant({ name: `${c.name}/kernel_tap${t}`, dtype: 'float32', shape: shapeOut, data: transposeData(t2.data as Float32Array, t2.shape, perm) });
}

/** Conv with a weight [O, I/group, kd, kh, kw]: Σ over depth taps t of conv2d(x[:, :, t·dd + od·sd], W[:, :, t]). */
export function conv3d(c: OnnxCtx): void {
  const wShape = c.typeOf(c.input(1)).shape;
  if (!wShape.every(isNum)) throw c.fail('Conv weights of run-time shape are not supported');
  const [ch, d, h, wd] = staticDims(c, '3-D convolution');
  const [, , kd] = wShape as number[];
  const win = readWindow(c, attrInts(c, 'kernel_shape', (wShape as number[]).slice(2)));
  if (win.kernel.length !== 3 || win.kernel.some((k, i) => k !== wShape[i + 2])) throw badInput(c, `kernel_shape [${win.kernel}] does not match the weight [${wShape}]`);
  const pads = explicitPads(c, win, [d, h, wd]);
  const [sd, dd] = [win.strides[0]!, win.dilations[0]!];
  const od = Math.floor((d + pads[0]! + pads[3]! - (kd! - 1) * dd - 1) / sd) + 1;
  if (od < 1) throw badInput(c, `the kernel of depth ${kd} (dilation ${dd}) is deeper than the padded input (${d + pads[0]! + pads[3]!})`);
  const planes = depthMajor(c, c.input(0), pads[0]!, pads[3]!);
  const attrs = { layout: 'NCHW', strides: win.strides.slice(1), dilations: win.dilations.slice(1), padding: 'EXPLICIT', pads: [pads[1]!, pads[2]!, pads[4]!, pads[5]!], group: attrInt(c, 'group', 1) };
  const w = c.konst(1);
  let acc = '';
  for (let t = 0; t < kd!; t++) {
    const s = step(c, 'slice', [planes], `tap${t}`, { starts: [t * dd], ends: [t * dd + (od - 1) * sd + 1], axes: [1], steps: [sd] });
    const flat = step(c, 'reshape', [s], `tap${t}_planes`, { shape: [-1, ch, h, wd] });
    const y = step(c, 'conv2d', [flat, tapKernel(c, w, t, [2, 3, 1, 0]), t === 0 ? c.input(2) : ''], `tap${t}_conv`, attrs);
    acc = acc ? step(c, 'add', [acc, y], `sum${t}`) : y;
  }
  channelMajor(c, acc, od);
}

/**
 * ConvTranspose with a weight [I, O, kd, kh, kw]. Along depth it is a convolution (stride 1) of the
 * input with sd − 1 zero planes after each plane, padded by (kd_eff − 1 − pad_begin) before, with
 * the taps reversed; along (H, W) each tap is a conv2dTranspose.
 */
export function convTranspose3d(c: OnnxCtx): void {
  const wShape = c.typeOf(c.input(1)).shape;
  if (!wShape.every(isNum)) throw c.fail('ConvTranspose weights of run-time shape are not supported');
  if (attrInt(c, 'group', 1) !== 1) throw c.fail('grouped ConvTranspose is not supported');
  if (attrStr(c, 'auto_pad', 'NOTSET') !== 'NOTSET' || attrInts(c, 'output_shape', []).length)
    throw c.fail('3-D ConvTranspose with auto_pad or output_shape is not supported (explicit pads are)');
  const [ch, d, h, wd] = staticDims(c, '3-D ConvTranspose');
  const [, , kd] = wShape as number[];
  const ones = [1, 1, 1];
  const [dil, strides] = [attrInts(c, 'dilations', ones), attrInts(c, 'strides', ones)];
  const opad = attrInts(c, 'output_padding', [0, 0, 0]);
  const pads = attrInts(c, 'pads', [0, 0, 0, 0, 0, 0]);
  const okInts = (v: number[], len: number, min: number): boolean => v.length === len && v.every((x) => Number.isSafeInteger(x) && x >= min);
  if (!okInts(dil, 3, 1) || !okInts(strides, 3, 1) || !okInts(opad, 3, 0) || !okInts(pads, 6, 0))
    throw badInput(c, `invalid strides [${strides}], dilations [${dil}], pads [${pads}] or output_padding [${opad}]`);
  const w = c.konst(1);
  if (!w && dil.slice(1).some((x) => x !== 1)) throw c.fail('dilated ConvTranspose with run-time weights is not supported');
  const [sd, dd] = [strides[0]!, dil[0]!];
  const eff = (kd! - 1) * dd + 1;
  const od = (d - 1) * sd + opad[0]! + eff - pads[0]! - pads[3]!;
  if (od < 1) throw badInput(c, `pads [${pads}] leave no output depth`);
  // Zero planes between input planes: [N, D, 1, C·H·W] padded to [N, D, sd, C·H·W] (the trailing sd − 1 are end pad).
  let planes = step(c, 'transpose', [c.input(0)], 'depth_major', { perm: [0, 2, 1, 3, 4] });
  if (sd > 1) {
    const rows = step(c, 'reshape', [planes], 'depth_rows', { shape: [-1, d, 1, ch * h * wd] });
    const spread = step(c, 'pad', [rows], 'depth_zeros', { pads: [0, 0, 0, 0, 0, 0, sd - 1, 0], mode: 'constant', value: 0 });
    planes = step(c, 'reshape', [spread], 'depth_spread', { shape: [-1, d * sd, ch, h, wd] });
  }
  // Tap t' reads planes z + t'·dd of the spread input shifted by eff − 1 − pad_begin (cropped when negative).
  const shift = eff - 1 - pads[0]!;
  const need = od + eff - 1; // positions read, from −shift
  const have = d * sd;
  const [before, after] = [Math.max(0, shift), Math.max(0, need - shift - have)];
  if (before || after) planes = step(c, 'pad', [planes], 'depth_pad', { pads: [0, before, 0, 0, 0, 0, after, 0, 0, 0], mode: 'constant', value: 0 });
  const crop = before - shift;
  const attrs = { layout: 'NCHW', strides: strides.slice(1), pads: [pads[1]!, pads[2]!, pads[4]!, pads[5]!], outputPadding: opad.slice(1) };
  let acc = '';
  for (let t = 0; t < kd!; t++) {
    const start = crop + t * dd;
    const s = step(c, 'slice', [planes], `tap${t}`, { starts: [start], ends: [start + od], axes: [1], steps: [1] });
    const flat = step(c, 'reshape', [s], `tap${t}_planes`, { shape: [-1, ch, h, wd] });
    const k = tapKernel(c, w, kd! - 1 - t, [2, 3, 1, 0], dil.slice(1));
    const y = step(c, 'conv2dTranspose', [flat, k, t === 0 ? c.input(2) : ''], `tap${t}_conv`, attrs);
    acc = acc ? step(c, 'add', [acc, y], `sum${t}`) : y;
  }
  channelMajor(c, acc, od);
}
