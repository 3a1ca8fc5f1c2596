// TFLite lowerings of the ops of src/ir/ops/resample.ts: resize, depthToSpace, spaceToDepth. Merged
// into TFLITE_LOWERINGS (lower.ts).
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import { axisTable, depthToSpacePlan, type ResizeAttrs } from '../../ir/ops/resample.js';
import type { OpType } from '../../ir/registry.js';
import type { Lowerer } from './lowerer.js';
import type { OptionField } from './flatbuffer.js';
import { OPTIONS } from './schema.js';
import { ARITH, num, opts, type Lowering } from './helpers.js';

export const RESAMPLE_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  depthToSpace: (l, n, a) => {
    // TFLite's DEPTH_TO_SPACE (NHWC) takes channel (i·b + j)·C' + c for pixel (i, j): ONNX's DCR order.
    if (a.mode !== 'DCR') return rearrange(l, n, depthToSpacePlan(l.shapeOf(n.inputs[0]!), num(a, 'blockSize'), 'CRD'));
    blockOp(l, n, 'DEPTH_TO_SPACE', OPTIONS.DepthToSpaceOptions, num(a, 'blockSize'));
  },
  spaceToDepth: (l, n, a) => blockOp(l, n, 'SPACE_TO_DEPTH', OPTIONS.SpaceToDepthOptions, num(a, 'blockSize')),
  resize: lowerResize,
};

/** DEPTH_TO_SPACE / SPACE_TO_DEPTH on the NHWC view of an NCHW value. */
function blockOp(l: Lowerer, n: Node, op: 'DEPTH_TO_SPACE' | 'SPACE_TO_DEPTH', optionType: number, b: number): void {
  const x = l.nhwc(n.inputs[0]!, 'NCHW');
  const o = l.spatialOut(n, 'NCHW');
  l.emit(op, [x], [o.tensor], opts(optionType, [[0, 'i32', b]]));
  o.place();
}

/** RESHAPE → 6-D TRANSPOSE → RESHAPE in logical order (DepthToSpace's CRD order). */
function rearrange(l: Lowerer, n: Node, p: { view: (number | string)[]; perm: number[]; out: (number | string)[] }): void {
  const [view, out] = [p.view as number[], p.out as number[]];
  const dtype = l.dtypeOf(n.inputs[0]!);
  const viewed = l.activation(`${n.name}/view`, view, dtype);
  l.emit('RESHAPE', [l.get(n.inputs[0]!), l.int32Const(`${n.name}/view_shape`, view)], [viewed], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', view]]));
  const moved = l.activation(`${n.name}/moved`, p.perm.map((d) => view[d]!), dtype);
  l.emit('TRANSPOSE', [viewed, l.int32Const(`${n.name}/perm`, p.perm)], [moved], opts(OPTIONS.TransposeOptions));
  const t = l.activation(n.outputs[0]!, out, dtype);
  l.emit('RESHAPE', [moved, l.int32Const(`${n.name}/out_shape`, out)], [t], opts(OPTIONS.ReshapeOptions, [[0, 'i32[]', out]]));
  l.place(n.outputs[0]!, t);
}

/**
 * Resize as ONNX defines it, one axis at a time: GATHER of each tap's input index, times its weight,
 * summed; SELECT_V2 puts tf_crop_and_resize's extrapolation value where a sample falls outside.
 * Tables come from the IR's own definition (axisTable), so every mode and transform is the same
 * arithmetic in float32.
 */
function lowerResize(l: Lowerer, n: Node, attrs: Record<string, unknown>): void {
  const a = attrs as unknown as ResizeAttrs;
  const inShape = l.shapeOf(n.inputs[0]!);
  const dtype = l.dtypeOf(n.inputs[0]!);
  const builtin = resizeBuiltin(a, inShape, dtype);
  if (builtin) {
    const o = l.spatialOut(n, 'NCHW');
    const [h, w] = [(a.sizes as number[])[2]!, (a.sizes as number[])[3]!];
    const flags: OptionField[] = builtin.op === 'RESIZE_BILINEAR' ? [[2, 'bool', builtin.alignCorners], [3, 'bool', builtin.halfPixelCenters]] : [[0, 'bool', builtin.alignCorners], [1, 'bool', builtin.halfPixelCenters]];
    const type = builtin.op === 'RESIZE_BILINEAR' ? OPTIONS.ResizeBilinearOptions : OPTIONS.ResizeNearestNeighborOptions;
    l.emit(builtin.op, [l.nhwc(n.inputs[0]!, 'NCHW'), l.int32Const(`${n.name}/size`, [h, w])], [o.tensor], opts(type, flags));
    return o.place();
  }
  let cur = l.get(n.inputs[0]!);
  let shape = [...inShape];
  (a.sizes as number[]).forEach((outSize, axis) => {
    const table = axisTable(a, axis, inShape[axis]!, outSize);
    if (!table) return;
    shape = shape.map((d, i) => (i === axis ? outSize : d));
    const along = shape.map((d, i) => (i === axis ? d : 1));
    const tag = `${n.name}/axis${axis}`;
    const terms = table.taps.map((taps, k) => {
      const g = l.activation(`${tag}/tap${k}`, shape, dtype);
      l.emit('GATHER', [cur, l.int32Const(`${tag}/taps${k}`, Array.from(taps))], [g], opts(OPTIONS.GatherOptions, [[0, 'i32', axis]]));
      if (table.taps.length === 1) return g;
      const w = l.activation(`${tag}/weighted${k}`, shape, dtype);
      l.emit('MUL', [g, l.floatConst(`${tag}/weights${k}`, table.weights[k]!, along)], [w], ARITH.MUL);
      return w;
    });
    cur = terms.reduce((sum, t, k) => {
      const s = l.activation(`${tag}/sum${k}`, shape, dtype);
      l.emit('ADD', [sum, t], [s], ARITH.ADD);
      return s;
    });
    if (table.outside.some((o) => o)) {
      const s = l.activation(`${tag}/extrapolated`, shape, dtype);
      const mask = l.constTensor(`${tag}/outside`, 'bool', along, table.outside);
      l.emit('SELECT_V2', [mask, l.floatConst(`${tag}/extrapolation`, Float32Array.of(a.extrapolationValue), []), cur], [s], opts(OPTIONS.SelectV2Options));
      cur = s;
    }
  });
  l.place(n.outputs[0]!, cur);
}

/**
 * The TFLite builtin that computes this resize exactly, if any: a 4-D NCHW value resized in H and W
 * only, with scales equal to output/input. TFLite's kernels (resize_bilinear.cc, resize_nearest_neighbor.cc)
 * sample at i·s or (i + ½)·s − ½ (half_pixel_centers), s = in/out, or i·(in − 1)/(out − 1) (align_corners),
 * which are ONNX's asymmetric, half_pixel (pytorch_half_pixel for sizes > 1) and align_corners. Nearest
 * floors i·s in float32, exact only where s is a power of two (out = in·2^k); then ONNX's
 * asymmetric/floor is TFLite's default, and half_pixel (either rounding: no ties for even factors) or
 * tf_half_pixel_for_nn/floor is half_pixel_centers.
 */
function resizeBuiltin(a: ResizeAttrs, inShape: number[], dtype: DType): { op: 'RESIZE_BILINEAR' | 'RESIZE_NEAREST_NEIGHBOR'; alignCorners: boolean; halfPixelCenters: boolean } | undefined {
  const sizes = a.sizes as number[];
  if (inShape.length !== 4 || dtype !== 'float32' || sizes[0] !== inShape[0] || sizes[1] !== inShape[1] || a.excludeOutside) return undefined;
  if (a.scales.slice(0, 2).some((s) => s !== 1 && s !== 0)) return undefined;
  const spatial = [2, 3];
  if (spatial.some((i) => a.scales[i] !== 0 && a.scales[i]! * inShape[i]! !== sizes[i])) return undefined;
  const m = a.coordinateMode;
  if (a.mode === 'linear') {
    if (spatial.some((i) => sizes[i]! < 2)) return undefined;
    if (m === 'asymmetric') return { op: 'RESIZE_BILINEAR', alignCorners: false, halfPixelCenters: false };
    if (m === 'half_pixel' || m === 'pytorch_half_pixel') return { op: 'RESIZE_BILINEAR', alignCorners: false, halfPixelCenters: true };
    if (m === 'align_corners') return { op: 'RESIZE_BILINEAR', alignCorners: true, halfPixelCenters: false };
    return undefined;
  }
  if (a.mode !== 'nearest') return undefined;
  const powerOfTwo = (k: number): boolean => Number.isInteger(k) && k >= 2 && (k & (k - 1)) === 0;
  if (!spatial.every((i) => sizes[i]! % inShape[i]! === 0 && powerOfTwo(sizes[i]! / inShape[i]!))) return undefined;
  const rounding = a.nearestMode === 'round_prefer_floor' || a.nearestMode === 'round_prefer_ceil';
  if (m === 'asymmetric' && a.nearestMode === 'floor') return { op: 'RESIZE_NEAREST_NEIGHBOR', alignCorners: false, halfPixelCenters: false };
  if (((m === 'half_pixel' || m === 'pytorch_half_pixel') && rounding) || (m === 'tf_half_pixel_for_nn' && a.nearestMode === 'floor'))
    return { op: 'RESIZE_NEAREST_NEIGHBOR', alignCorners: false, halfPixelCenters: true };
  return undefined;
}
